/**
 * One thing /readyz asks before it says ready (http/routes/health-route.ts). Its own file so
 * that what reports readiness (the Redis limits, the store) need not import http/.
 */
export interface ReadinessCheck {
  name: string;
  /** Rejects when not ready; resolves a note when ready but degraded. */
  check(): Promise<void | string>;
}
