// infra/compose.yaml against the Compose Specification's JSON schema (the copy dclint ships,
// schemas/compose.schema.json), before and after interpolation with the example settings,
// and the settings file against the variables compose.yaml uses.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  at,
  composeFile,
  composePath,
  composeServices,
  cpuDockerfile,
  envExamplePath,
  gpuDockerfile,
  imageName,
  interpolate,
  isMap,
  readEnvFile,
  type YamlMap,
} from './infra-files';

const require = createRequire(import.meta.url);
// The schema is draft 07, which it names by an https address where ajv knows draft 07 as
// http://json-schema.org/draft-07/schema#: compile it without that line. It marks deprecated
// fields with draft 2019's `deprecated`: known, not enforced.
const { $schema: _draft07, ...composeSchema } = JSON.parse(
  readFileSync(join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json'), 'utf8'),
) as Record<string, unknown>;
const validateCompose = new Ajv({ allErrors: true, strictSchema: false, allowUnionTypes: true }).compile(composeSchema);

const example = readEnvFile(envExamplePath);
const composeText = readFileSync(composePath, 'utf8');

/** compose.yaml as `docker compose config` sees it with infra/.env copied from the example. */
function interpolated(): YamlMap {
  const values = new Map([...example].map(([name, value]) => [name, value.replace('CHANGE-ME', 'not-a-secret')]));
  return parse(interpolate(composeText, values), { merge: true }) as YamlMap;
}

describe('compose.yaml', () => {
  it('matches the Compose Specification schema as written and as interpolated', () => {
    expect(validateCompose(composeFile()), JSON.stringify(validateCompose.errors, null, 2)).toBe(true);
    expect(validateCompose(interpolated()), JSON.stringify(validateCompose.errors, null, 2)).toBe(true);
  });

  it('the schema rejects a misspelt service field', () => {
    const broken = structuredClone(composeFile());
    ((broken['services'] as YamlMap)['worker'] as YamlMap)['stop_grace'] = '1m';
    expect(validateCompose(broken)).toBe(false);
  });

  it('uses exactly the variables of .env.example, and requires the credentials', () => {
    const used = new Set([...composeText.matchAll(/(?<!\$)\$\{(\w+)/g)].map((match) => match[1]!));
    expect(
      [...used].filter((name) => !example.has(name)),
      'used, missing from .env.example',
    ).toEqual([]);
    expect(
      [...example.keys()].filter((name) => !used.has(name)),
      'in .env.example, unused',
    ).toEqual([]);
    for (const secret of ['REDIS_PASSWORD', 'MINIO_ROOT_PASSWORD', 'LSTM_S3_SECRET_KEY']) {
      expect(composeText).toMatch(new RegExp(`\\$\\{${secret}:\\?`));
      expect(example.get(secret), `${secret} in .env.example`).toBe('CHANGE-ME');
    }
  });

  it('redis never evicts and keeps nothing unless asked; the lstm containers reach redis and minio by service name', () => {
    const services = interpolated()['services'] as Record<string, YamlMap>;
    const redis = (services['redis']!['command'] as string[]).join(' ');
    expect(redis).toContain('--maxmemory-policy noeviction');
    expect(redis).toContain(`--appendonly ${example.get('REDIS_APPENDONLY')!}`);
    for (const name of ['coordinator', 'worker', 'worker-gpu', 'cli']) {
      const environment = services[name]!['environment'] as YamlMap;
      const redisUrl = new URL(String(environment['REDIS_URL']));
      expect(redisUrl.host).toBe('redis:6379');
      expect(redisUrl.password).toBe('not-a-secret');
      expect(new URL(String(environment['S3_ENDPOINT'])).host).toBe('minio:9000');
      expect(environment['LSTM_STORE']).toBe(`s3://${example.get('LSTM_BUCKET')!}/${example.get('LSTM_STORE_PREFIX')!}`);
      expect(services[name]!['depends_on']).toEqual({
        redis: { condition: 'service_healthy' },
        'minio-init': { condition: 'service_completed_successfully' },
      });
    }
  });

  it('N CPU workers, and a GPU worker under the gpu profile with the NVIDIA runtime', () => {
    const services = Object.fromEntries(composeServices());
    expect(at(services['worker'], 'deploy', 'replicas')).toBe('${LSTM_CPU_WORKERS:-2}');
    const gpu = services['worker-gpu']!;
    expect(gpu['profiles']).toEqual(['gpu']);
    expect(gpu['runtime']).toBe('nvidia');
    expect(at(gpu, 'deploy', 'resources', 'reservations', 'devices')).toEqual([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
    expect(at(gpu, 'build', 'dockerfile')).toBe('infra/Dockerfile.gpu');
  });

  it('builds lstm images from infra/ and pins every other image to a release', () => {
    const services = interpolated()['services'] as Record<string, YamlMap>;
    for (const [name, service] of Object.entries(services)) {
      const image = String(service['image']);
      if (isMap(service['build'])) {
        expect(['lstm-runner', 'lstm-runner-gpu'], name).toContain(imageName(image));
      } else {
        expect(image, name).toMatch(/:[\w.-]+$/);
        expect(image, name).not.toMatch(/:latest$/);
      }
    }
    for (const dockerfile of [cpuDockerfile, gpuDockerfile]) {
      for (const base of dockerfile.from) expect(base, dockerfile.path).toMatch(/^[\w./-]+:[\w.-]+$/);
    }
  });
});
