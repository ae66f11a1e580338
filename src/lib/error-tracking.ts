/**
 * Error tracking with Sentry (`@sentry/cloudflare`), on only when SENTRY_DSN is set:
 * without it the Worker's handlers run unwrapped, so a deployment that does not use
 * Sentry pays nothing for it.
 *
 * What is sent: unexpected errors only (a 5xx the code did not mean to answer, a queue
 * message failing on its last attempt, a failing cron job); never a 4xx. Each event
 * carries the request id, the route pattern, the user id (no other personal data), the
 * release and the environment. `scrubEvent` removes what must never leave: headers
 * other than a short allowlist, cookies, bodies, query strings, and any field whose
 * name says password, token, secret, key, code or authorization.
 */
import * as Sentry from "@sentry/cloudflare";
import type { Bindings } from "../env";

/** The Worker's entry points, as src/index.ts exports them. */
export type WorkerHandlers = {
  fetch(request: Request, env: Bindings, ctx: ExecutionContext): Response | Promise<Response>;
  queue(batch: MessageBatch<unknown>, env: Bindings, ctx: ExecutionContext): void | Promise<void>;
  scheduled(controller: ScheduledController, env: Bindings, ctx: ExecutionContext): void | Promise<void>;
};

/** Request headers worth keeping on an event; everything else (Authorization, Cookie, X-API-Key …) is dropped. */
const SAFE_HEADERS = new Set([
  "user-agent",
  "content-type",
  "content-length",
  "accept",
  "cf-ray",
  "x-request-id",
]);
const SECRET_NAME =
  /pass(word)?|token|secret|key|code|authori[sz]ation|cookie|otp|signature|ticket|verifier/i;
const REDACTED = "[redacted]";

function scrubValue(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([name, inner]) => [
      name,
      SECRET_NAME.test(name) ? REDACTED : scrubValue(inner, depth + 1),
    ]),
  );
}

/** A URL without its query string and fragment (tokens, codes and tickets travel there). */
function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

export function scrubEvent<E extends Sentry.ErrorEvent>(event: E): E {
  if (event.request) {
    const headers = Object.fromEntries(
      Object.entries(event.request.headers ?? {}).filter(([name]) => SAFE_HEADERS.has(name.toLowerCase())),
    );
    event.request = {
      method: event.request.method,
      url: event.request.url ? withoutQuery(event.request.url) : undefined,
      headers,
    };
  }
  if (event.user) event.user = event.user.id === undefined ? {} : { id: event.user.id };
  if (event.extra) event.extra = scrubValue(event.extra) as E["extra"];
  if (event.contexts) event.contexts = scrubValue(event.contexts) as E["contexts"];
  if (event.breadcrumbs) {
    event.breadcrumbs = event.breadcrumbs.map((crumb) => ({
      ...crumb,
      message: crumb.message ? withoutQuery(crumb.message) : crumb.message,
      data: crumb.data
        ? (scrubValue({
            ...crumb.data,
            ...(typeof crumb.data.url === "string" ? { url: withoutQuery(crumb.data.url) } : {}),
          }) as Record<string, unknown>)
        : crumb.data,
    }));
  }
  return event;
}

export function errorTrackingOptions(env: Bindings): Sentry.CloudflareOptions {
  return {
    dsn: env.SENTRY_DSN,
    environment: env.ENVIRONMENT ?? "development",
    // Unset: the SDK falls back to the Worker's version id (CF_VERSION_METADATA) when that binding exists.
    ...(env.SENTRY_RELEASE ? { release: env.SENTRY_RELEASE } : {}),
    // Errors only: tracing is a separate decision (and a separate bill).
    tracesSampleRate: 0,
    beforeSend: (event) => scrubEvent(event),
  };
}

export type ErrorContext = {
  requestId?: string;
  route?: string;
  userId?: string;
  tags?: Record<string, string | number>;
};

/** Sends an unexpected error to Sentry when it is on for this invocation; a no-op otherwise. */
export function reportError(error: unknown, context: ErrorContext = {}): void {
  if (!Sentry.getClient()) return;
  Sentry.withScope((scope) => {
    if (context.requestId) scope.setTag("request_id", context.requestId);
    if (context.route) scope.setTag("route", context.route);
    if (context.userId) scope.setUser({ id: context.userId });
    for (const [name, value] of Object.entries(context.tags ?? {})) scope.setTag(name, value);
    Sentry.captureException(error);
  });
}

/**
 * The Worker's handlers, wrapped by Sentry for the invocations whose environment has a
 * SENTRY_DSN and left as they are for the others.
 */
export function withErrorTracking(handler: Partial<WorkerHandlers>): WorkerHandlers {
  const tracked = Sentry.withSentry(errorTrackingOptions, { ...handler } as ExportedHandler<
    Bindings,
    unknown
  >) as Partial<WorkerHandlers>;
  const pick = (env: Bindings) => (env.SENTRY_DSN ? tracked : handler);
  const missing = (name: string) => new Error(`withErrorTracking: the Worker has no ${name} handler`);
  return {
    fetch: (request, env, ctx) => {
      const target = pick(env).fetch;
      if (!target) throw missing("fetch");
      return target(request, env, ctx);
    },
    queue: (batch, env, ctx) => {
      const target = pick(env).queue;
      if (!target) throw missing("queue");
      return target(batch, env, ctx);
    },
    scheduled: (controller, env, ctx) => {
      const target = pick(env).scheduled;
      if (!target) throw missing("scheduled");
      return target(controller, env, ctx);
    },
  };
}

/**
 * A Durable Object class whose instances report their own unexpected errors (alarms,
 * WebSocket handlers, RPC) to Sentry when their environment has a SENTRY_DSN. The
 * choice is made per instance, at construction, from its env.
 */
export function trackDurableObject<T extends new (ctx: DurableObjectState, env: Bindings) => object>(
  plain: T,
): T {
  let instrumented: T | undefined;
  return new Proxy(plain, {
    construct(target, args, newTarget) {
      const env = args[1] as Bindings | undefined;
      if (!env?.SENTRY_DSN) return Reflect.construct(target, args, newTarget);
      instrumented ??= Sentry.instrumentDurableObjectWithSentry(errorTrackingOptions, plain as never) as T;
      return Reflect.construct(instrumented, args);
    },
  });
}
