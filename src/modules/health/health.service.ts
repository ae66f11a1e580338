/**
 * Dependency checks for GET /health: each binding is exercised for real (a D1
 * query, KV reads, an R2 head, a queue send) under a timeout, and timed. The email
 * provider is checked for its settings only (its key, its binding): calling the
 * provider's API on every probe would spend its quota.
 */
import { emailProviderIssues } from "../../email/providers";
import { type Bindings, getConfig } from "../../env";
import { enqueue } from "../../jobs/enqueue";

export type CheckResult = { status: "ok" | "down"; latency_ms: number; error?: string };
export type HealthReport = {
  status: "ok" | "down";
  checks: Record<string, CheckResult>;
};

const CHECK_TIMEOUT_MS = 3_000;

/** The probes, by the name they are reported under. */
function probes(env: Bindings, requestId: string): Record<string, () => Promise<unknown>> {
  const ping = () => ({
    type: "health.ping" as const,
    sent_at: new Date().toISOString(),
    request_id: requestId,
  });
  return {
    d1: () => env.DB.prepare("SELECT 1 AS ok").first(),
    auth_kv: () => env.AUTH_KV.get("health:probe"),
    rate_limit_kv: () => env.RATE_LIMIT_KV.get("health:probe"),
    r2: () => env.FILES.head("health/probe"),
    jobs_queue: () => enqueue(env.JOBS_QUEUE, ping()),
    email_queue: () => enqueue(env.EMAIL_QUEUE, ping()),
    email_provider: async () => {
      const issues = emailProviderIssues(getConfig(env), env);
      if (issues.length > 0) throw new Error(issues.join("; "));
    },
  };
}

async function timed(probe: () => Promise<unknown>): Promise<CheckResult> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { status: "ok", latency_ms: elapsed(started) };
  } catch (error) {
    // The message is the binding's own (no secrets); it tells an operator which way it failed.
    const message = error instanceof Error ? error.message : String(error);
    return { status: "down", latency_ms: elapsed(started), error: message.slice(0, 200) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

export async function checkDependencies(env: Bindings, requestId: string): Promise<HealthReport> {
  const entries = Object.entries(probes(env, requestId));
  const results = await Promise.all(
    entries.map(async ([name, probe]) => [name, await timed(probe)] as const),
  );
  const checks = Object.fromEntries(results);
  const status = results.every(([, result]) => result.status === "ok") ? "ok" : "down";
  return { status, checks };
}
