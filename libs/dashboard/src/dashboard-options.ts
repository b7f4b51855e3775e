// What `lstm dashboard` is started with: typed options, defaults merged then validated. The
// one rule that matters most: a dashboard reachable from other machines needs a token.
import type { ObjectStore } from '@lstm-runner/storage';
import type { ClusterView } from './cluster-view';
import { DashboardConfigError } from './errors/dashboard-config-error';

export interface DashboardOptions {
  readonly store: ObjectStore;
  readonly cluster: ClusterView;
  /** 0 picks a free port. */
  readonly port: number;
  /** The address to listen on; anything but a loopback address needs a token. */
  readonly host: string;
  /** When set, every request must carry it (Bearer header, or the cookie a ?token= link sets). */
  readonly token: string | undefined;
  /** Host names (Host header) accepted besides loopback names and the bound address: a proxy's or the machine's name. */
  readonly allowedHosts: readonly string[];
  /** How often the page asks for news. */
  readonly refreshMs: number;
  /** Points per loss series the page asks for: the chart stays light whatever the run's length. */
  readonly chartPoints: number;
  readonly log: (line: string) => void;
  /** Removes credentials from messages that leave the process (answers and log lines). */
  readonly redact: (text: string) => string;
}

export const DEFAULT_DASHBOARD_PORT = 8090;
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';
export const MIN_TOKEN_LENGTH = 16;
/** The most points one series of GET /api/jobs/:id may ask for (?points=all gives every record). */
export const MAX_CHART_POINTS = 10_000;

export const DEFAULT_DASHBOARD_OPTIONS = {
  port: DEFAULT_DASHBOARD_PORT,
  host: DEFAULT_DASHBOARD_HOST,
  token: undefined,
  allowedHosts: [],
  refreshMs: 2_000,
  chartPoints: 1_000,
  log: (): void => undefined,
  redact: (text: string): string => text,
} satisfies Partial<DashboardOptions>;

export type DashboardInput = Partial<DashboardOptions> & Pick<DashboardOptions, 'store' | 'cluster'>;

/** Loopback names and addresses: only this machine reaches them. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}

/** Any address of the machine. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

// RFC 6750's token68 characters: safe in a header, a query string and our messages.
const TOKEN_CHARACTERS = /^[A-Za-z0-9._~+/=-]+$/;

/** Throws DashboardConfigError unless the bind and token go together: a non-loopback bind needs a token, a token must be strong. */
export function assertAccessAllowed(host: string, token: string | undefined): void {
  if (host.trim() === '') throw new DashboardConfigError('dashboard host must not be empty');
  if (token !== undefined) {
    if (token.length < MIN_TOKEN_LENGTH)
      throw new DashboardConfigError(
        `the dashboard token must have at least ${MIN_TOKEN_LENGTH} characters (make one with: openssl rand -hex 24)`,
      );
    if (!TOKEN_CHARACTERS.test(token))
      throw new DashboardConfigError("the dashboard token may only use letters, digits and '.', '_', '~', '+', '/', '=', '-'");
  } else if (!isLoopbackHost(host)) {
    throw new DashboardConfigError(
      `binding the dashboard to ${host} (not a loopback address) needs a token: --token or LSTM_DASHBOARD_TOKEN`,
    );
  }
}

export function validateDashboardOptions(options: DashboardOptions): DashboardOptions {
  const { port, host, token, refreshMs, chartPoints } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new DashboardConfigError(`dashboard port must be 0 to 65535, got ${port}`);
  assertAccessAllowed(host, token);
  for (const [name, value, min] of [
    ['refreshMs', refreshMs, 100],
    ['chartPoints', chartPoints, 10],
  ] as const) {
    if (!Number.isInteger(value) || value < min)
      throw new DashboardConfigError(`dashboard option ${name} must be an integer >= ${min}, got ${value}`);
  }
  if (chartPoints > MAX_CHART_POINTS) throw new DashboardConfigError(`dashboard option chartPoints must be at most ${MAX_CHART_POINTS}`);
  return options;
}
