// infra/k8s: every manifest against its API schema (strict), the kustomizations, and the
// wiring between objects that no schema sees (selectors, ports, probes, scale targets).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  asMaps,
  at,
  filesUnder,
  imageName,
  isMap,
  k8sDir,
  k8sLstmContainers,
  k8sObjects,
  ourImages,
  podSpec,
  readYamlMap,
  shown,
  type K8sObject,
  type YamlMap,
} from './infra-files';
import { kubernetesValidator, strictSchema } from './kubernetes-schemas';

const objects = k8sObjects();
const validator = kubernetesValidator();
const kustomizations = filesUnder(k8sDir, (name) => name === 'kustomization.yaml');

function named(kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} under infra/k8s`);
  return found;
}

const deployments = objects.filter((object) => object.kind === 'Deployment');
const lstmDeployments = deployments.filter((object) =>
  asMaps(podSpec(object)?.['containers']).some((container) => ourImages.has(imageName(String(container['image'])))),
);

function templateLabels(object: K8sObject): YamlMap {
  const labels = at(object.body, 'spec', 'template', 'metadata', 'labels');
  return isMap(labels) ? labels : {};
}

function selects(selector: unknown, labels: YamlMap): boolean {
  return isMap(selector) && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** Bytes of a Kubernetes memory quantity such as 640Mi or 1Gi. */
function bytes(quantity: unknown): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(String(quantity));
  if (match === null) throw new Error(`unexpected memory quantity ${String(quantity)}`);
  return Number(match[1]) * { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] as 'Ki' | 'Mi' | 'Gi'];
}

/** The numerics profile a worker serves, from its arguments: '<backend>-t<threads>'. */
function workerProfile(args: string[]): string {
  const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];
  return `${flag('--backend') ?? 'auto'}-t${flag('--threads') ?? '1'}`;
}

describe('Kubernetes manifests', () => {
  it.each(objects.map((object) => [`${shown(object.file)} ${object.kind} ${object.name}`, object] as const))(
    '%s matches its API schema',
    (_, object) => {
      expect(validator.problems(object.body)).toEqual([]);
    },
  );

  it('the strict schemas reject what the API server would drop or refuse', () => {
    const deployment = named('Deployment', 'lstm-worker-cpu').body;
    const misspelt = structuredClone(deployment);
    const pod = at(misspelt, 'spec', 'template', 'spec') as YamlMap;
    pod['terminationGracePeriod'] = 60;
    expect(validator.problems(misspelt).join('\n')).toContain("must NOT have additional properties 'terminationGracePeriod'");
    const wrongType = structuredClone(deployment);
    (at(wrongType, 'spec') as YamlMap)['replicas'] = 'two';
    expect(validator.problems(wrongType).join('\n')).toContain('/spec/replicas: must be integer');
    const scaledObject = structuredClone(named('ScaledObject', 'lstm-worker-cpu').body);
    (at(scaledObject, 'spec') as YamlMap)['cooldown'] = 300;
    expect(validator.problems(scaledObject).join('\n')).toContain("'cooldown'");
    expect(strictSchema({ properties: { properties: { type: 'object', properties: { a: {} } } } })).toEqual({
      properties: { properties: { type: 'object', properties: { a: {} }, additionalProperties: false } },
      additionalProperties: false,
    });
  });

  it('every object is in the namespace lstm or gets it from its kustomization', () => {
    for (const object of objects.filter((o) => o.kind !== 'Namespace')) {
      const namespace = at(object.body, 'metadata', 'namespace');
      if (namespace === undefined) {
        const kustomization = readYamlMap(join(dirname(object.file), 'kustomization.yaml'));
        expect(kustomization['namespace'], `${shown(object.file)} ${object.name}`).toBe('lstm');
      } else {
        expect(namespace, `${shown(object.file)} ${object.name}`).toBe('lstm');
      }
    }
  });

  it('the coordinator runs as one replica, replaced with Recreate', () => {
    const coordinator = named('Deployment', 'lstm-coordinator').body;
    expect(at(coordinator, 'spec', 'replicas')).toBe(1);
    expect(at(coordinator, 'spec', 'strategy', 'type')).toBe('Recreate');
  });

  it.each(lstmDeployments.map((object) => [object.name, object] as const))(
    '%s: health probes on its --http-port, a grace period to finish its work, resources, a selector matching its pods',
    (_, object) => {
      const pod = podSpec(object)!;
      expect(selects(at(object.body, 'spec', 'selector', 'matchLabels'), templateLabels(object))).toBe(true);
      expect(Number(pod['terminationGracePeriodSeconds'])).toBeGreaterThanOrEqual(60);
      for (const container of asMaps(pod['containers'])) {
        const args = (container['args'] as unknown[]).map(String);
        const port = Number(args[args.indexOf('--http-port') + 1]);
        const httpPort = asMaps(container['ports']).find((p) => p['name'] === 'http');
        expect(httpPort?.['containerPort'], `${object.name}: containerPort http = --http-port`).toBe(port);
        expect(at(container, 'livenessProbe', 'httpGet')).toEqual({ path: '/healthz', port: 'http' });
        expect(at(container, 'startupProbe', 'httpGet')).toEqual({ path: '/healthz', port: 'http' });
        expect(at(container, 'readinessProbe', 'httpGet')).toEqual({ path: '/readyz', port: 'http' });
        expect(at(container, 'resources', 'requests', 'cpu')).toBeDefined();
        expect(bytes(at(container, 'resources', 'limits', 'memory'))).toBeGreaterThan(
          bytes(at(container, 'resources', 'requests', 'memory')),
        );
        expect(at(container, 'securityContext', 'allowPrivilegeEscalation')).toBe(false);
      }
      expect(at(pod, 'securityContext', 'runAsNonRoot')).toBe(true);
    },
  );

  it('a CPU worker requests a core and the memory the bench measured', () => {
    const [container] = asMaps(podSpec(named('Deployment', 'lstm-worker-cpu'))?.['containers']);
    expect(at(container, 'resources', 'requests', 'cpu')).toBe('1');
    // docs/benchmarks.md: lstm-worker peaked at 343-379 MiB on a 10.7 MB corpus; the
    // `lstm worker` process that starts it holds ~130 MiB more.
    expect(bytes(at(container, 'resources', 'requests', 'memory'))).toBeGreaterThanOrEqual((379 + 130) * 2 ** 20);
  });

  it('the GPU worker asks for a GPU and lands on GPU nodes', () => {
    const pod = podSpec(named('Deployment', 'lstm-worker-gpu'))!;
    const [container] = asMaps(pod['containers']);
    expect(at(container, 'resources', 'limits', 'nvidia.com/gpu')).toBe(1);
    expect(Object.keys(isMap(pod['nodeSelector']) ? pod['nodeSelector'] : {})).toContain('nvidia.com/gpu.present');
    expect(asMaps(pod['tolerations']).some((toleration) => toleration['key'] === 'nvidia.com/gpu')).toBe(true);
    expect(imageName(String(container?.['image']))).toBe('lstm-runner-gpu');
  });

  it('every Service and PodDisruptionBudget selects the pods of a Deployment, on ports the pods have', () => {
    const podTemplates = deployments.map((deployment) => ({ labels: templateLabels(deployment), pod: podSpec(deployment)! }));
    for (const service of objects.filter((object) => object.kind === 'Service')) {
      const targets = podTemplates.filter(({ labels }) => selects(at(service.body, 'spec', 'selector'), labels));
      expect(targets.length, `Service ${service.name} selects no pods`).toBeGreaterThan(0);
      for (const port of asMaps(at(service.body, 'spec', 'ports'))) {
        for (const { pod } of targets) {
          const portNames = asMaps(pod['containers']).flatMap((container) => asMaps(container['ports']).map((p) => p['name']));
          expect(portNames, `Service ${service.name} targetPort ${String(port['targetPort'])}`).toContain(port['targetPort']);
        }
      }
    }
    for (const budget of objects.filter((object) => object.kind === 'PodDisruptionBudget')) {
      const matched = podTemplates.filter(({ labels }) => selects(at(budget.body, 'spec', 'selector', 'matchLabels'), labels));
      expect(matched.length, `PodDisruptionBudget ${budget.name}`).toBe(1);
    }
  });

  it('each worker Deployment has a KEDA ScaledObject reading its own profile from the coordinator /scaling', () => {
    const scaledObjects = objects.filter((object) => object.kind === 'ScaledObject');
    const workers = k8sLstmContainers(objects).filter((container) => container.args[0] === 'worker');
    expect(scaledObjects.map((object) => at(object.body, 'spec', 'scaleTargetRef', 'name')).sort()).toEqual(
      lstmDeployments
        .filter((object) => object.name !== 'lstm-coordinator')
        .map((object) => object.name)
        .sort(),
    );
    const service = named('Service', 'lstm-coordinator');
    const servicePort = asMaps(at(service.body, 'spec', 'ports')).find((port) => port['name'] === 'http')?.['port'];
    for (const scaledObject of scaledObjects) {
      const target = String(at(scaledObject.body, 'spec', 'scaleTargetRef', 'name'));
      const worker = workers.find((container) => container.where.includes(` Deployment ${target} `));
      expect(worker, target).toBeDefined();
      expect(at(scaledObject.body, 'spec', 'minReplicaCount')).toBe(0);
      expect(Number(at(scaledObject.body, 'spec', 'cooldownPeriod'))).toBeGreaterThan(0);
      const [trigger, ...others] = asMaps(at(scaledObject.body, 'spec', 'triggers'));
      expect(others).toEqual([]);
      expect(trigger?.['type']).toBe('metrics-api');
      expect(trigger?.['metricType']).toBe('AverageValue');
      const metadata = trigger?.['metadata'] as YamlMap;
      expect(metadata['url']).toBe(`http://${service.name}.lstm.svc:${String(servicePort)}/scaling`);
      expect(metadata['targetValue']).toBe('1');
      // GJSON: the profile's desiredWorkers, or 0 when the profile is absent from /scaling.
      expect(metadata['valueLocation']).toBe(`[profiles.${workerProfile(worker!.args)}.desiredWorkers,!0]|0`);
    }
  });

  it.each(kustomizations.map((file) => [shown(file), file] as const))(
    '%s: a Kustomization whose resources and patch targets exist',
    (_, file) => {
      const kustomization = readYamlMap(file);
      expect(kustomization['apiVersion']).toBe('kustomize.config.k8s.io/v1beta1');
      expect(kustomization['kind']).toBe('Kustomization');
      const known = ['apiVersion', 'kind', 'namespace', 'labels', 'resources', 'images', 'patches'];
      expect(Object.keys(kustomization).filter((key) => !known.includes(key))).toEqual([]);
      for (const resource of (kustomization['resources'] as unknown[]).map(String)) {
        const path = join(dirname(file), resource);
        expect(existsSync(path), `${resource} exists`).toBe(true);
        if (statSync(path).isDirectory()) expect(existsSync(join(path, 'kustomization.yaml')), `${resource}/kustomization.yaml`).toBe(true);
      }
      for (const patch of asMaps(kustomization['patches'])) {
        const pattern = new RegExp(`^(?:${String(at(patch, 'target', 'name'))})$`);
        expect(objects.some((object) => object.kind === at(patch, 'target', 'kind') && pattern.test(object.name))).toBe(true);
      }
    },
  );

  it('every manifest is reachable from a kustomization, except the Secret examples', () => {
    const reachable = new Set<string>();
    const visit = (dir: string): void => {
      for (const resource of (readYamlMap(join(dir, 'kustomization.yaml'))['resources'] as unknown[]).map(String)) {
        const path = join(dir, resource);
        if (statSync(path).isDirectory()) visit(path);
        else reachable.add(path);
      }
    };
    kustomizations.forEach((file) => visit(dirname(file)));
    const manifests = [...new Set(objects.map((object) => object.file))];
    expect(manifests.filter((file) => !reachable.has(file) && !file.endsWith('secret.example.yaml')).map(shown)).toEqual([]);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  // kubectl is not part of the project's setup: where it is installed, its kustomize builds
  // every entry point as `kubectl apply -k` would, and the result is validated again.
  it.skipIf(kubectl.status !== 0)(
    'kubectl kustomize builds every kustomization into valid objects (runs where kubectl is installed)',
    () => {
      for (const file of kustomizations) {
        const built = spawnSync('kubectl', ['kustomize', dirname(file)], { encoding: 'utf8' });
        expect(built.stderr, shown(file)).toBe('');
        expect(built.status).toBe(0);
        for (const document of parseAllDocuments(built.stdout)) {
          const object = document.toJS() as unknown;
          expect(
            validator.problems(object),
            `${shown(file)}: ${String(at(object, 'kind'))} ${String(at(object, 'metadata', 'name'))}`,
          ).toEqual([]);
          if (at(object, 'kind') !== 'Namespace') expect(at(object, 'metadata', 'namespace')).toBe('lstm');
        }
      }
    },
  );
});
