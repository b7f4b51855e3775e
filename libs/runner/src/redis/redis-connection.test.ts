import { describe, expect, it } from 'vitest';
import { redactCredentials, redactUrl, redisOptionsFromUrl } from './redis-connection';

describe('redis URLs', () => {
  it('reads host, port, database, user, password and TLS from the URL', () => {
    expect(redisOptionsFromUrl('rediss://worker:s3cr%40t@redis.example:6380/2')).toMatchObject({
      host: 'redis.example',
      port: 6380,
      db: 2,
      username: 'worker',
      password: 's3cr@t',
      tls: { servername: 'redis.example' },
      maxRetriesPerRequest: null,
    });
    const plain = redisOptionsFromUrl('redis://127.0.0.1');
    expect(plain).toMatchObject({ port: 6379, db: 0 });
    expect(plain.tls).toBeUndefined();
    expect(plain.password).toBeUndefined();
  });

  it('rejects other schemes and bad databases without echoing the password', () => {
    expect(() => redisOptionsFromUrl('http://u:hunter22@host:1')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => redisOptionsFromUrl('http://u:hunter22@host:1')).not.toThrow(/hunter22/);
    expect(() => redisOptionsFromUrl('redis://:hunter22@host:1/x')).not.toThrow(/hunter22/);
  });

  it.each([
    ['an unencoded # in the password', 'redis://admin:hun#ter22@redis.example:6380'],
    ['an unencoded / in the password', 'rediss://admin:hun/ter22@redis.example:6380/0'],
    ['an unencoded @ in the password', 'redis://:hun@ter22@redis.example:6380'],
    ['a port out of range', 'redis://admin:hunter22@redis.example:99999'],
  ])('redacts a URL that does not parse (%s), in every message', (_, url) => {
    const password = /:([^:]*)@[^@]*$/.exec(url)![1]!;
    expect(redactUrl(url)).not.toContain(password);
    // The URL may parse after all (WHATWG takes the last '@'); if it does not, its error hides the password.
    let message = '';
    try {
      redisOptionsFromUrl(url);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toContain(password);
    expect(redactCredentials(`cannot use ${url}: ECONNREFUSED (${password})`, url)).not.toContain(password);
  });

  it('never lets credentials through redaction', () => {
    const url = 'rediss://admin:hunter22@redis.example:6380';
    expect(redactUrl(url)).toBe('rediss://***:***@redis.example:6380');
    const message = `connect ECONNREFUSED ${url} (password hunter22, user admin:)`;
    const redacted = redactCredentials(message, url);
    expect(redacted).not.toContain('hunter22');
    expect(redacted).toContain('redis.example:6380');
    expect(redactUrl('/plain/dir')).toBe('/plain/dir');
  });
});
