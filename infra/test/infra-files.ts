// The deployment files as the infra tests read them: YAML documents, Dockerfiles, and the
// lstm-runner containers that compose.yaml and the Kubernetes manifests start (their image,
// their arguments after the image's `lstm` entry point, and the env variables they get).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const infraDir = join(repoRoot, 'infra');
export const k8sDir = join(infraDir, 'k8s');
export const composePath = join(infraDir, 'compose.yaml');
export const envExamplePath = join(infraDir, '.env.example');

/** A path relative to the repository root, for messages. */
export function shown(path: string): string {
  return relative(repoRoot, path);
}

export function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : filesUnder(path, keep);
    return keep(name) ? [path] : [];
  });
}

export const yamlFiles = filesUnder(infraDir, (name) => /\.ya?ml$/.test(name));

export type YamlMap = Record<string, unknown>;

export function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every document of a YAML file as plain data; a syntax error or warning throws, naming the file and line. */
export function readYamlDocuments(path: string): unknown[] {
  // merge: compose.yaml shares settings through `<<: *anchor` (YAML 1.1 merge keys, which
  // Compose supports).
  const documents = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true, prettyErrors: true });
  if (!Array.isArray(documents)) return [];
  return documents.map((document) => {
    const problem = document.errors[0] ?? document.warnings[0];
    if (problem !== undefined) throw new Error(`${shown(path)}: ${problem.message}`);
    return document.toJS({ maxAliasCount: 100 }) as unknown;
  });
}

export function readYamlMap(path: string): YamlMap {
  const [document, ...rest] = readYamlDocuments(path);
  if (!isMap(document) || rest.length > 0) throw new Error(`${shown(path)}: expected one YAML mapping`);
  return document;
}

export interface Dockerfile {
  readonly path: string;
  /** Base images, with ARG defaults substituted. */
  readonly from: string[];
  /** ENV names of the last (runtime) stage. */
  readonly runtimeEnv: string[];
  /** ENV names of every stage. */
  readonly env: string[];
  readonly entrypoint: string[];
  readonly cmd: string[];
}

/** The instructions these tests need, from a Dockerfile with JSON-form ENTRYPOINT and CMD. */
export function readDockerfile(path: string): Dockerfile {
  const lines = readFileSync(path, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args = new Map<string, string>();
  const from: string[] = [];
  const env: string[] = [];
  let runtimeEnv: string[] = [];
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const line of lines) {
    const [instruction = '', rest = ''] = line.split(/\s+(.*)/s);
    switch (instruction.toUpperCase()) {
      case 'ARG': {
        const [name = '', value = ''] = rest.split('=');
        args.set(name, value);
        break;
      }
      case 'FROM':
        from.push(rest.split(/\s+/)[0]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? ''));
        runtimeEnv = [];
        break;
      case 'ENV': {
        const names = [...rest.matchAll(/(\w+)=/g)].map((match) => match[1]!);
        env.push(...names);
        runtimeEnv.push(...names);
        break;
      }
      case 'ENTRYPOINT':
        entrypoint = JSON.parse(rest) as string[];
        break;
      case 'CMD':
        cmd = JSON.parse(rest) as string[];
        break;
    }
  }
  return { path, from, runtimeEnv, env, entrypoint, cmd };
}

export const cpuDockerfile = readDockerfile(join(infraDir, 'Dockerfile'));
export const gpuDockerfile = readDockerfile(join(infraDir, 'Dockerfile.gpu'));

/** Our images by name, as the Kubernetes manifests and compose.yaml name them. */
export const ourImages: ReadonlyMap<string, Dockerfile> = new Map([
  ['lstm-runner', cpuDockerfile],
  ['lstm-runner-gpu', gpuDockerfile],
]);

/** An lstm-runner container of compose.yaml or of a Kubernetes manifest. */
export interface LstmContainer {
  /** Where it is defined, for messages. */
  readonly where: string;
  readonly dockerfile: Dockerfile;
  /** The `lstm` command's arguments: subcommand first. */
  readonly args: string[];
  /** Env variables its process gets (including the image's own). */
  readonly env: string[];
}

export function composeFile(): YamlMap {
  return readYamlMap(composePath);
}

export function composeServices(): [string, YamlMap][] {
  const services = composeFile()['services'];
  if (!isMap(services)) throw new Error('compose.yaml: no services');
  return Object.entries(services).map(([name, service]) => {
    if (!isMap(service)) throw new Error(`compose.yaml: service ${name} is not a mapping`);
    return [name, service];
  });
}

function composeDockerfile(service: YamlMap): Dockerfile | undefined {
  const build = service['build'];
  if (!isMap(build)) return undefined;
  const path = join(infraDir, String(build['context'] ?? '.'), String(build['dockerfile'] ?? 'Dockerfile'));
  return [cpuDockerfile, gpuDockerfile].find((dockerfile) => dockerfile.path === path);
}

export function composeLstmContainers(): LstmContainer[] {
  return composeServices().flatMap(([name, service]) => {
    const dockerfile = composeDockerfile(service);
    if (dockerfile === undefined) return [];
    const command = service['command'];
    const environment = service['environment'];
    return [
      {
        where: `compose.yaml service ${name}`,
        dockerfile,
        args: Array.isArray(command) ? command.map(String) : dockerfile.cmd,
        env: [...(isMap(environment) ? Object.keys(environment) : []), ...dockerfile.runtimeEnv],
      },
    ];
  });
}

export interface K8sObject {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly body: YamlMap;
}

/** The Kubernetes objects of every manifest under infra/k8s (the kustomization files excluded). */
export function k8sObjects(): K8sObject[] {
  return filesUnder(k8sDir, (name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml').flatMap((file) =>
    readYamlDocuments(file).map((body, index) => {
      if (!isMap(body)) throw new Error(`${shown(file)}: document ${index + 1} is not a mapping`);
      const metadata = isMap(body['metadata']) ? body['metadata'] : {};
      return { file, apiVersion: String(body['apiVersion']), kind: String(body['kind']), name: String(metadata['name']), body };
    }),
  );
}

export function at(value: unknown, ...path: (string | number)[]): unknown {
  return path.reduce<unknown>(
    (node, key) => (typeof key === 'number' ? (Array.isArray(node) ? node[key] : undefined) : isMap(node) ? node[key] : undefined),
    value,
  );
}

export function asMaps(value: unknown): YamlMap[] {
  return Array.isArray(value) ? value.filter(isMap) : [];
}

/** The image's name without registry tag, e.g. lstm-runner for lstm-runner:0.1.0. */
export function imageName(image: string): string {
  return image.replace(/:[^/:]+$/, '');
}

export function podSpec(object: K8sObject): YamlMap | undefined {
  const spec = at(object.body, 'spec', 'template', 'spec');
  return isMap(spec) ? spec : undefined;
}

/** Keys of the ConfigMaps and Secrets (examples included) defined under infra/k8s, by name. */
function envSourceKeys(objects: K8sObject[]): Map<string, string[]> {
  return new Map(
    objects
      .filter((object) => object.kind === 'ConfigMap' || object.kind === 'Secret')
      .map((object) => {
        const data = {
          ...(isMap(object.body['data']) ? object.body['data'] : {}),
          ...(isMap(object.body['stringData']) ? object.body['stringData'] : {}),
        };
        return [`${object.kind}/${object.name}`, Object.keys(data)];
      }),
  );
}

export function k8sLstmContainers(objects = k8sObjects()): LstmContainer[] {
  const sources = envSourceKeys(objects);
  return objects.flatMap((object) =>
    asMaps(podSpec(object)?.['containers']).flatMap((container) => {
      const dockerfile = ourImages.get(imageName(String(container['image'])));
      if (dockerfile === undefined) return [];
      const where = `${shown(object.file)} ${object.kind} ${object.name} container ${String(container['name'])}`;
      if (container['command'] !== undefined) throw new Error(`${where}: sets command; the image's entry point (lstm) must stay`);
      const fromSources = asMaps(container['envFrom']).flatMap((source) => {
        const key = isMap(source['configMapRef'])
          ? `ConfigMap/${String(source['configMapRef']['name'])}`
          : `Secret/${String(at(source, 'secretRef', 'name'))}`;
        const keys = sources.get(key);
        if (keys === undefined) throw new Error(`${where}: envFrom ${key}, which no manifest under infra/k8s defines`);
        return keys;
      });
      return [
        {
          where,
          dockerfile,
          args: Array.isArray(container['args']) ? container['args'].map(String) : dockerfile.cmd,
          env: [...asMaps(container['env']).map((variable) => String(variable['name'])), ...fromSources, ...dockerfile.runtimeEnv],
        },
      ];
    }),
  );
}

/** Compose's interpolation (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `$$`) with the given values. */
export function interpolate(text: string, values: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$\$|\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g,
    (match, name: string | undefined, colon: string, operator: string, operand: string) => {
      if (name === undefined) return '$';
      const value = values.get(name);
      const missing = value === undefined || (colon === ':' && value === '');
      if (!missing) return value;
      if (operator === '-') return operand;
      throw new Error(`compose.yaml: ${name} is not set (${operator === '?' ? operand : match})`);
    },
  );
}

/** The variables of an env file (KEY=value lines). */
export function readEnvFile(path: string): Map<string, string> {
  return new Map(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const equals = line.indexOf('=');
        if (equals < 1) throw new Error(`${shown(path)}: '${line}' is not KEY=value`);
        return [line.slice(0, equals), line.slice(equals + 1)];
      }),
  );
}
