// Redis connections from a URL (redis:// or rediss:// with TLS, optional user:password), and
// the one place that turns a URL into text fit for logs: credentials never leave this file.
import type { RedisOptions } from 'bullmq';
import { isIP } from 'node:net';
import { Redis } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

// Whatever sits between '://' and the last '@' may be a user name and password, even when the
// URL does not parse (an unencoded '#', '/' or '@' in a password, a bad port).
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/is;

/** The URL with any user name and password replaced by `***`, parseable or not. */
export function redactUrl(url: string): string {
  const match = USERINFO.exec(url);
  if (match === null) return url;
  const [, scheme = '', userinfo = ''] = match;
  const colon = userinfo.indexOf(':');
  const masked = colon < 0 ? '***' : `${colon === 0 ? '' : '***'}:***`;
  return `${scheme}${masked}@${url.slice(match[0].length)}`;
}

/** Removes every occurrence of the URL's credentials from a message. */
export function redactCredentials(message: string, url: string): string {
  let redacted = message.split(url).join(redactUrl(url));
  const userinfo = USERINFO.exec(url)?.[2];
  if (userinfo === undefined) return redacted;
  const colon = userinfo.indexOf(':');
  const username = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const password = colon < 0 ? '' : userinfo.slice(colon + 1);
  const decoded = (text: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  for (const secret of [password, decoded(password)]) {
    if (secret.length >= 3) redacted = redacted.split(secret).join('***');
  }
  if (username.length >= 3) redacted = redacted.split(`${username}:`).join('***:');
  return redacted;
}

export function redisOptionsFromUrl(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`invalid Redis URL ${redactUrl(url)}: expected redis://[user:password@]host:port[/db] or rediss://...`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`invalid Redis URL ${redactUrl(url)}: the scheme must be redis:// or rediss://`);
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`invalid Redis URL ${redactUrl(url)}: the database must be a number`);
  return {
    host: parsed.hostname,
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    db,
    // SNI takes host names only (RFC 6066); an IP address is verified against the certificate without it.
    ...(parsed.protocol === 'rediss:' ? { tls: isIP(parsed.hostname) === 0 ? { servername: parsed.hostname } : {} } : {}),
    // BullMQ blocks on its connections; it requires this to be null.
    maxRetriesPerRequest: null,
  };
}

export function connectRedis(url: string): Redis {
  const redis = new Redis(redisOptionsFromUrl(url));
  // Without a listener ioredis prints unhandled errors with the URL; callers see failures
  // on the commands they run instead.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * Null when Redis answers PING at url, else why not (credentials redacted). Used before
 * long-lived connections, which would otherwise retry a wrong password or host forever.
 */
export async function whyRedisUnreachable(url: string, timeoutMs = 3000): Promise<string | null> {
  const redis = new Redis({
    ...redisOptionsFromUrl(url),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => (lastError = error));
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (error) {
    return redactCredentials((lastError ?? (error as Error)).message, url);
  } finally {
    redis.disconnect();
  }
}

/** Throws a one-line error naming the (redacted) URL unless Redis answers. */
export async function assertRedisReachable(url: string): Promise<void> {
  const reason = await whyRedisUnreachable(url);
  if (reason !== null) throw new Error(`cannot use Redis at ${redactUrl(url)}: ${reason}`);
}
