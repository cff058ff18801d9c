/**
 * Liveness and readiness, as the orchestrators ask for them (Kubernetes
 * probes, Docker/Nomad health checks), served by the telemetry HTTP server at
 * `/health` (= `/health/live`) and `/health/ready`.
 *
 * The two answer different questions, and mixing them is how stateful apps
 * get killed in a loop:
 * - live: is the process able to make progress? (event loop turning, app not
 *   in ERROR). A long restore is NOT a liveness failure: restarting would only
 *   restart the restore.
 * - ready: is this instance fully serving its partitions? (app RUNNING, no
 *   task restoring). A StatefulSet rolling update waits for it before moving
 *   to the next pod, so at most one instance restores at a time.
 */

export type HealthStatus = 'UP' | 'DOWN';

export interface HealthCheckResult {
  status: HealthStatus;
  /** Why, in a few words or a small object (`{ state: 'REBALANCING', restoringTasks: 3 }`). */
  detail?: unknown;
}

/** A check returns a result, or a boolean (true = UP). A throw or a timeout counts as DOWN. */
export type HealthCheck = () => HealthCheckResult | boolean | Promise<HealthCheckResult | boolean>;

export interface HealthReport {
  status: HealthStatus;
  checks: Record<string, HealthCheckResult>;
}

export type HealthKind = 'live' | 'ready';

/**
 * Named liveness and readiness checks. With no check of a kind registered the
 * answer is UP: the process serves HTTP, which is all that is known.
 */
export class HealthRegistry {
  private readonly checks: Record<HealthKind, Map<string, HealthCheck>> = {
    live: new Map(),
    ready: new Map(),
  };

  /** @param timeoutMs how long one check may take before it counts as DOWN (ms, default 1000). */
  constructor(private readonly timeoutMs = 1000) {}

  /** Adds or replaces the check `name` of kind `kind`. Returns a function that removes it. */
  register(kind: HealthKind, name: string, check: HealthCheck): () => void {
    this.checks[kind].set(name, check);
    return () => {
      if (this.checks[kind].get(name) === check) this.checks[kind].delete(name);
    };
  }

  /** Runs every check of `kind` concurrently; the report is UP only when all are UP. */
  async report(kind: HealthKind): Promise<HealthReport> {
    const entries = [...this.checks[kind].entries()];
    const results = await Promise.all(entries.map(([, check]) => this.run(check)));
    const checks: Record<string, HealthCheckResult> = {};
    entries.forEach(([name], i) => {
      checks[name] = results[i]!;
    });
    const status: HealthStatus = results.every((r) => r.status === 'UP') ? 'UP' : 'DOWN';
    return { status, checks };
  }

  private async run(check: HealthCheck): Promise<HealthCheckResult> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<HealthCheckResult>((resolve) => {
        timer = setTimeout(
          () => resolve({ status: 'DOWN', detail: `check timed out after ${this.timeoutMs} ms` }),
          this.timeoutMs,
        );
      });
      const result = await Promise.race([Promise.resolve().then(check), timeout]);
      if (typeof result === 'boolean') return { status: result ? 'UP' : 'DOWN' };
      return result;
    } catch (error) {
      return { status: 'DOWN', detail: error instanceof Error ? error.message : String(error) };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
