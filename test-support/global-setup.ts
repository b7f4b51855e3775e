// Integration tests share one redis-server and one s3rver per run (each test uses its own
// queue names and key prefixes); tests that kill Redis start a private one with
// startRedisServer().
import type { TestProject } from 'vitest/node';
import { startRedisServer, startS3Server } from './servers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    s3Endpoint: string;
    s3Bucket: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startRedisServer();
  const s3 = await startS3Server();
  project.provide('redisUrl', redis.url);
  project.provide('s3Endpoint', s3.endpoint);
  project.provide('s3Bucket', s3.bucket);
  return async () => {
    redis.stop();
    await s3.stop();
  };
}
