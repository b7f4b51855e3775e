// Who may use the dashboard, decided per request before any route runs:
// 1. the Host header names this dashboard (a DNS-rebinding page's Host names the attacker's
//    domain, so a dashboard on 127.0.0.1 answers it nothing);
// 2. with a token, the request carries it: `Authorization: Bearer TOKEN`, or the HttpOnly,
//    SameSite=Strict cookie that opening the page with `?token=TOKEN` sets;
// 3. an action (POST) comes from the dashboard's own page: JSON only (a cross-site form
//    cannot send it without a preflight, which is never granted), and when the browser says
//    where it comes from (Origin, Sec-Fetch-Site), from this origin.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isLoopbackHost, isWildcardHost } from './dashboard-options';

export const TOKEN_COOKIE = 'lstm_dashboard';
/** How long the cookie of a ?token= link lasts. */
export const TOKEN_COOKIE_MAX_AGE_SECONDS = 7 * 86_400;

export interface GuardedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly cookies: Readonly<Record<string, string | undefined>>;
  /** The ?token= of the request, if any. */
  readonly queryToken: string | undefined;
}

export type GuardDecision =
  | { readonly allow: true; /** The cookie value to set (a valid ?token= link for the page). */ readonly setCookie?: string }
  | { readonly allow: false; readonly status: 400 | 401 | 403 | 415; readonly reason: string };

export interface RequestGuardOptions {
  readonly token: string | undefined;
  /** The address the dashboard listens on. */
  readonly host: string;
  readonly allowedHosts: readonly string[];
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
/** The page route: the one a ?token= link may open. */
const PAGE_PATH = '/';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
const sameSecret = (given: string, expected: Buffer): boolean => timingSafeEqual(digest(given), expected);
const header = (request: GuardedRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** The host name of a Host header, lowercase, without its port ('[::1]:8090' -> '[::1]'). */
export function hostNameOf(hostHeader: string): string {
  const host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

export class RequestGuard {
  private readonly tokenDigest: Buffer | undefined;
  /** The cookie value: derived from the token, so the cookie jar never holds the token itself. */
  private readonly cookieValue: string | undefined;
  private readonly cookieDigest: Buffer | undefined;
  /** Null: any host (a wildcard bind with a token and no --allowed-host). */
  private readonly hostNames: ReadonlySet<string> | null;

  constructor(options: RequestGuardOptions) {
    const { token, host, allowedHosts } = options;
    this.tokenDigest = token === undefined ? undefined : digest(token);
    this.cookieValue = token === undefined ? undefined : createHash('sha256').update(`lstm-dashboard-cookie:${token}`).digest('hex');
    this.cookieDigest = this.cookieValue === undefined ? undefined : digest(this.cookieValue);
    const named = allowedHosts.map((name) => hostNameOf(name));
    if (isWildcardHost(host) && named.length === 0) {
      this.hostNames = null;
    } else {
      const bound = isWildcardHost(host) ? [] : [hostNameOf(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host)];
      this.hostNames = new Set([...LOOPBACK_NAMES, ...bound, ...named]);
    }
  }

  check(request: GuardedRequest): GuardDecision {
    const host = header(request, 'host');
    if (host === undefined || host.trim() === '') return { allow: false, status: 400, reason: 'no Host header' };
    const name = hostNameOf(host);
    if (this.hostNames !== null && !this.hostNames.has(name) && !isLoopbackHost(name)) {
      return { allow: false, status: 403, reason: `host ${name} is not this dashboard's (add it with --allowed-host)` };
    }
    const authorized = this.authorize(request);
    if (!authorized.allow) return authorized;
    if (request.method === 'POST') {
      const refused = this.crossSite(request, host);
      if (refused !== null) return refused;
    }
    return authorized;
  }

  private authorize(request: GuardedRequest): GuardDecision {
    if (this.tokenDigest === undefined) return { allow: true };
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header(request, 'authorization') ?? '')?.[1];
    if (bearer !== undefined && sameSecret(bearer, this.tokenDigest)) return { allow: true };
    const cookie = request.cookies[TOKEN_COOKIE];
    if (cookie !== undefined && this.cookieDigest !== undefined && sameSecret(cookie, this.cookieDigest)) return { allow: true };
    const { queryToken } = request;
    if (request.method === 'GET' && request.path === PAGE_PATH && queryToken !== undefined && sameSecret(queryToken, this.tokenDigest)) {
      return { allow: true, setCookie: this.cookieValue! };
    }
    return {
      allow: false,
      status: 401,
      reason: 'this dashboard needs its token: open it with ?token=TOKEN, or send Authorization: Bearer TOKEN',
    };
  }

  private crossSite(request: GuardedRequest, host: string): GuardDecision | null {
    const type = (header(request, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return { allow: false, status: 415, reason: 'actions take Content-Type: application/json' };
    const origin = header(request, 'origin');
    if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
      return { allow: false, status: 403, reason: `cross-site action refused (Origin ${origin})` };
    }
    const site = header(request, 'sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { allow: false, status: 403, reason: `cross-site action refused (Sec-Fetch-Site ${site})` };
    }
    return null;
  }
}
