/** A dashboard that must not start as configured (a non-loopback bind without a token, a weak token, ...). */
export class DashboardConfigError extends Error {
  override readonly name = 'DashboardConfigError';
}
