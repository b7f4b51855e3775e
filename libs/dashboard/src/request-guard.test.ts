import { describe, expect, it } from 'vitest';
import { validateDashboardOptions, DEFAULT_DASHBOARD_OPTIONS, type DashboardOptions } from './dashboard-options';
import { hostNameOf, RequestGuard, TOKEN_COOKIE, type GuardedRequest } from './request-guard';

const TOKEN = 'a-long-enough-token-0123456789';

function request(overrides: Partial<GuardedRequest> & { headers?: Record<string, string> } = {}): GuardedRequest {
  return {
    method: 'GET',
    path: '/api/jobs',
    cookies: {},
    queryToken: undefined,
    ...overrides,
    headers: { host: '127.0.0.1:8090', ...overrides.headers },
  };
}

describe('RequestGuard', () => {
  const local = new RequestGuard({ token: undefined, host: '127.0.0.1', allowedHosts: [] });
  const guarded = new RequestGuard({ token: TOKEN, host: '0.0.0.0', allowedHosts: ['dash.example.org'] });

  it('answers loopback names only, when bound to loopback (no DNS rebinding)', () => {
    for (const host of ['127.0.0.1:8090', 'localhost:8090', '[::1]:8090', 'LOCALHOST']) {
      expect(local.check(request({ headers: { host } }))).toEqual({ allow: true });
    }
    expect(local.check(request({ headers: { host: 'attacker.example:8090' } }))).toMatchObject({ allow: false, status: 403 });
    expect(local.check(request({ headers: { host: '' } }))).toMatchObject({ allow: false, status: 400 });
    expect(hostNameOf('[::1]:8090')).toBe('[::1]');
    expect(hostNameOf('Dash.Example.org')).toBe('dash.example.org');
  });

  it('answers the allowed host names and loopback when bound to every address', () => {
    const headers = (host: string): Record<string, string> => ({ host, authorization: `Bearer ${TOKEN}` });
    expect(guarded.check(request({ headers: headers('dash.example.org:8090') }))).toEqual({ allow: true });
    expect(guarded.check(request({ headers: headers('localhost:8090') }))).toEqual({ allow: true });
    expect(guarded.check(request({ headers: headers('other.example.org') }))).toMatchObject({ status: 403 });
    const anyHost = new RequestGuard({ token: TOKEN, host: '0.0.0.0', allowedHosts: [] });
    expect(anyHost.check(request({ headers: headers('10.0.0.7:8090') }))).toEqual({ allow: true });
  });

  it('with a token: refuses requests without it, takes it as a Bearer header or as the cookie a ?token= page link sets', () => {
    const host = 'localhost:8090';
    expect(guarded.check(request({ headers: { host } }))).toMatchObject({ allow: false, status: 401 });
    expect(guarded.check(request({ headers: { host, authorization: 'Bearer wrong-token-of-some-length' } }))).toMatchObject({
      status: 401,
    });
    expect(guarded.check(request({ headers: { host, authorization: `bearer ${TOKEN}` } }))).toEqual({ allow: true });
    const link = guarded.check(request({ path: '/', queryToken: TOKEN, headers: { host } }));
    expect(link).toMatchObject({ allow: true, setCookie: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const cookie = (link as { setCookie: string }).setCookie;
    expect(cookie).not.toContain(TOKEN);
    expect(guarded.check(request({ cookies: { [TOKEN_COOKIE]: cookie }, headers: { host } }))).toEqual({ allow: true });
    expect(guarded.check(request({ cookies: { [TOKEN_COOKIE]: TOKEN }, headers: { host } }))).toMatchObject({ status: 401 });
    // A ?token= opens the page only: the API takes the header or the cookie.
    expect(guarded.check(request({ path: '/api/jobs', queryToken: TOKEN, headers: { host } }))).toMatchObject({ status: 401 });
  });

  it('takes actions only as JSON from the page’s own origin', () => {
    const post = (headers: Record<string, string>): GuardedRequest => request({ method: 'POST', path: '/api/jobs/x/cancel', headers });
    expect(
      local.check(post({ 'content-type': 'application/json', origin: 'http://127.0.0.1:8090', 'sec-fetch-site': 'same-origin' })),
    ).toEqual({
      allow: true,
    });
    expect(local.check(post({ 'content-type': 'application/json' }))).toEqual({ allow: true });
    expect(local.check(post({ 'content-type': 'application/x-www-form-urlencoded' }))).toMatchObject({ status: 415 });
    expect(local.check(post({ 'content-type': 'text/plain' }))).toMatchObject({ status: 415 });
    expect(local.check(post({ 'content-type': 'application/json', origin: 'http://attacker.example' }))).toMatchObject({ status: 403 });
    expect(local.check(post({ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }))).toMatchObject({ status: 403 });
  });
});

describe('validateDashboardOptions', () => {
  const options = (overrides: Partial<DashboardOptions>): DashboardOptions =>
    ({ ...DEFAULT_DASHBOARD_OPTIONS, store: undefined, cluster: undefined, ...overrides }) as unknown as DashboardOptions;

  it('refuses to bind a non-loopback address without a token, and weak tokens', () => {
    expect(() => validateDashboardOptions(options({ host: '0.0.0.0' }))).toThrow(
      'binding the dashboard to 0.0.0.0 (not a loopback address) needs a token: --token or LSTM_DASHBOARD_TOKEN',
    );
    expect(() => validateDashboardOptions(options({ host: '0.0.0.0', token: 'short' }))).toThrow('at least 16 characters');
    expect(() => validateDashboardOptions(options({ host: '0.0.0.0', token: 'has spaces in it, sixteen+' }))).toThrow('may only use');
    expect(validateDashboardOptions(options({ host: '0.0.0.0', token: TOKEN })).host).toBe('0.0.0.0');
    expect(validateDashboardOptions(options({ host: 'localhost' })).token).toBeUndefined();
  });
});
