// Redis with a password, over TLS (rediss://): training works, and the password never shows
// in output or errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../../../test-support/servers';
import { TestCluster } from '../../../test-support/cluster';
import { injectedServers, tinySpec } from './fixtures';

const PASSWORD = 'pw-Zq81xTk';

describe('a Redis over TLS that needs a password', () => {
  let redis: RedisServerHandle;
  let cluster: TestCluster;
  let spec: string;

  beforeAll(async () => {
    redis = await startRedisServer(undefined, { password: PASSWORD, tls: true });
    cluster = new TestCluster({ ...injectedServers(), redisUrl: redis.url }, 'auth');
    // The test server's certificate is self-signed: trust it the way users trust a private CA.
    cluster.env['NODE_EXTRA_CA_CERTS'] = redis.caFile;
    spec = cluster.writeSpec('tiny.yaml', tinySpec(cluster.sensorSubset(800), { maxSteps: 3 }));
  });

  afterAll(async () => {
    await cluster.stop();
    redis.stop();
  });

  it('trains through it without printing the password', async () => {
    expect(redis.url.startsWith('rediss://')).toBe(true);
    const run = await cluster.run(['train', spec, '--local-workers', '1', '--job-id', 'auth', '--redis', redis.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    const status = await cluster.run(['status', 'auth', '--json']);
    expect(status.stdout).not.toContain(PASSWORD);
  });

  it('fails with a clear error on a wrong password, without printing either password', async () => {
    const wrong = redis.url.replace(PASSWORD, 'wrong-Pw-77x');
    const run = await cluster.run(['train', spec, '--job-id', 'auth-wrong', '--redis', wrong]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).not.toContain('wrong-Pw-77x');
    expect(run.stderr).not.toContain(PASSWORD);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
