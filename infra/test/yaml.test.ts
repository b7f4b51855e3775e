// Every YAML file under infra/ parses (no syntax error, duplicate key or warning), and the
// committed examples of credentials hold none.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { envExamplePath, isMap, k8sObjects, readEnvFile, readYamlDocuments, repoRoot, shown, yamlFiles } from './infra-files';

describe('infra YAML', () => {
  it('finds the deployment files', () => {
    expect(yamlFiles.map(shown)).toEqual(
      expect.arrayContaining(['infra/compose.yaml', 'infra/k8s/kustomization.yaml', 'infra/k8s/base/kustomization.yaml']),
    );
  });

  it.each(yamlFiles.map((file) => [shown(file), file] as const))('%s parses', (_, file) => {
    const documents = readYamlDocuments(file);
    expect(documents.length).toBeGreaterThan(0);
    for (const document of documents) expect(isMap(document)).toBe(true);
  });

  it('the examples of credentials hold placeholders only, and their filled-in copies are ignored by git', () => {
    const placeholder = 'CHANGE-ME';
    const secrets = k8sObjects().filter((object) => object.kind === 'Secret');
    expect(secrets.every((secret) => secret.file.endsWith('secret.example.yaml'))).toBe(true);
    const values = [
      ...secrets.flatMap((secret) => Object.entries(isMap(secret.body['stringData']) ? secret.body['stringData'] : {})),
      ...readEnvFile(envExamplePath),
    ];
    for (const [name, value] of values) {
      if (/PASSWORD|SECRET|ACCESS_KEY_ID/.test(name)) expect(value, name).toBe(placeholder);
      if (name === 'REDIS_URL') expect(new URL(String(value)).password, name).toBe(placeholder);
    }
    for (const secret of secrets) expect(secret.body['data'], `${secret.name}: data would be base64, not a placeholder`).toBeUndefined();
    const ignored = spawnSync('git', ['check-ignore', 'infra/.env', 'infra/k8s/secret.yaml', 'infra/k8s/single-node/secret.yaml'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(ignored.stdout.trim().split('\n')).toHaveLength(3);
  });
});
