// @lstm-runner/dashboard: `lstm dashboard`, the web page and JSON API over the store and the
// cluster (jobs, loss curves, workers, queues, cancel and resume), with its access rules.
export { DashboardServer } from './dashboard-server';
export {
  assertAccessAllowed,
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_OPTIONS,
  DEFAULT_DASHBOARD_PORT,
  isLoopbackHost,
  MAX_CHART_POINTS,
  MIN_TOKEN_LENGTH,
  validateDashboardOptions,
} from './dashboard-options';
export type { DashboardInput, DashboardOptions } from './dashboard-options';
export { RedisClusterView } from './cluster-view';
export type { ClusterView, RedisClusterViewOptions } from './cluster-view';
export { DashboardState } from './dashboard-state';
export type { WorkerView } from './dashboard-state';
export type { CheckpointView, JobDetail, JobSummary, LossCurves } from './job-views';
export { downsample } from './downsample';
export type { Point } from './downsample';
export { RequestGuard, TOKEN_COOKIE } from './request-guard';
export { DashboardConfigError } from './errors/dashboard-config-error';
export { UnknownJobError } from './errors/unknown-job-error';
