/**
 * Error tracking with Sentry, on only when SENTRY_DSN is set: without it the Worker's
 * handlers run unwrapped, so a deployment that does not use Sentry pays nothing for it.
 *
 * What is sent: unexpected errors only (a 5xx the code did not mean to answer, a queue
 * message failing on its last attempt, a failing cron job, an error thrown out of a
 * handler or a Durable Object method); never a 4xx. Each event carries the request id,
 * the route pattern, the user id (no other personal data), the request's method, URL and
 * safe headers, the release and the environment. `scrubEvent` removes what must never
 * leave: headers other than a short allowlist, cookies, bodies, query strings, and any
 * field whose name says password, token, secret, key, code or authorization.
 *
 * Why our own wrapper and not `withSentry` / `instrumentDurableObjectWithSentry`: those
 * also instrument every binding (D1, KV, R2, queues, Workers AI) for tracing, which this
 * Worker does not use (tracesSampleRate 0), and they weigh about 24 KiB of the gzipped
 * bundle more (bench/README.md, issue 22). Here each invocation gets its own Sentry scope
 * (an AsyncLocalStorage store, so concurrent requests never share tags or users) bound to
 * one SDK client per isolate and DSN, and is flushed with `waitUntil` when it ends. No
 * breadcrumbs: the SDK records them on a scope shared by the whole isolate, where
 * concurrent requests would mix theirs; the `request_id` tag leads to the request's log
 * lines in Workers Logs instead. Stack traces are mapped back to src/ with the source
 * maps uploaded to Sentry (docs/OPERATIONS.md → Error tracking).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  CloudflareClient,
  type CloudflareOptions,
  createTransport,
  dedupeIntegration,
  type ErrorEvent,
  linkedErrorsIntegration,
  Scope,
} from "@sentry/cloudflare";
import { type BaseTransportOptions, createStackParser } from "@sentry/core";
import { nodeStackLineParser } from "@sentry/core/server";
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

export function scrubEvent<E extends ErrorEvent>(event: E): E {
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

/**
 * V8's stack lines, read as the SDK's own Workers parser reads them: a bundle's frames name
 * `index.js`, made absolute (`/index.js`) so that Sentry matches them to the uploaded source map
 * `~/index.js` (docs/OPERATIONS.md → Error tracking), and every frame with a file is ours.
 */
function workersStackLineParser(): ReturnType<typeof nodeStackLineParser> {
  const [priority, parseLine] = nodeStackLineParser();
  return [
    priority,
    (line) => {
      const frame = parseLine(line);
      if (frame) {
        const { filename } = frame;
        frame.abs_path = filename !== undefined && !filename.startsWith("/") ? `/${filename}` : filename;
        frame.in_app = filename !== undefined;
      }
      return frame;
    },
  ];
}
const stackParser = createStackParser(workersStackLineParser());

/** Each event is one POST to the DSN's envelope endpoint; `globalThis.fetch` is looked up per send (tests fake it). */
function fetchTransport(options: BaseTransportOptions) {
  return createTransport(options, async (request) => {
    const response = await globalThis.fetch(options.url, { method: "POST", body: request.body });
    await response.body?.cancel();
    return {
      statusCode: response.status,
      headers: {
        "x-sentry-rate-limits": response.headers.get("X-Sentry-Rate-Limits"),
        "retry-after": response.headers.get("Retry-After"),
      },
    };
  });
}

export function errorTrackingOptions(env: Bindings): CloudflareOptions {
  const versionId = (env as { CF_VERSION_METADATA?: { id?: string } }).CF_VERSION_METADATA?.id;
  const release = env.SENTRY_RELEASE || versionId;
  return {
    dsn: env.SENTRY_DSN,
    environment: env.ENVIRONMENT ?? "development",
    // Unset: the Worker's version id when the CF_VERSION_METADATA binding exists, as the SDK does.
    ...(release ? { release } : {}),
    // Errors only: tracing is a separate decision (and a separate bill).
    tracesSampleRate: 0,
    beforeSend: (event) => scrubEvent(event),
  };
}

/** One SDK client per isolate and DSN (the options only change with a new deployment). */
const clients = new Map<string, CloudflareClient>();

function clientFor(env: Bindings): CloudflareClient | undefined {
  const dsn = env.SENTRY_DSN;
  if (!dsn) return undefined;
  let client = clients.get(dsn);
  if (!client) {
    client = new CloudflareClient({
      ...errorTrackingOptions(env),
      stackParser,
      transport: fetchTransport,
      integrations: [dedupeIntegration(), linkedErrorsIntegration()],
    } as ConstructorParameters<typeof CloudflareClient>[0]);
    client.init();
    clients.set(dsn, client);
  }
  return client;
}

/** The Sentry scope of the invocation running now (none when Sentry is off for it). */
const invocationScope = new AsyncLocalStorage<Scope>();

/** How long an invocation's `waitUntil` may spend delivering its events. */
const FLUSH_TIMEOUT_MS = 2_000;

/**
 * Runs one invocation inside its own scope: an error it throws (or rejects with) is sent and
 * thrown again, and whatever it sent is flushed after it through `waitUntil`, so no response
 * waits for Sentry. A synchronous result stays synchronous. A call made from inside a tracked
 * one (a Durable Object calling its own methods) just runs: the outer call reports.
 */
function tracked<T>(
  client: CloudflareClient,
  waitUntil: (promise: Promise<unknown>) => void,
  request: Request | undefined,
  run: () => T,
): T {
  if (invocationScope.getStore()) return run();
  const scope = new Scope();
  scope.setClient(client);
  if (request) {
    const { method, url, headers } = request;
    // `beforeSend` (scrubEvent) keeps the safe headers and cuts the query string.
    scope.addEventProcessor((event) => ({
      ...event,
      request: { method, url, headers: Object.fromEntries(headers) },
    }));
  }
  const fail = (error: unknown) => {
    scope.captureException(error, { mechanism: { type: "auto.function.cloudflare", handled: false } });
  };
  const flush = () => waitUntil(client.flush(FLUSH_TIMEOUT_MS));
  let result: T;
  try {
    result = invocationScope.run(scope, run);
  } catch (error) {
    fail(error);
    flush();
    throw error;
  }
  if (!(result instanceof Promise)) {
    flush();
    return result;
  }
  return result.then(
    (value) => {
      flush();
      return value;
    },
    (error: unknown) => {
      fail(error);
      flush();
      throw error;
    },
  ) as T;
}

export type ErrorContext = {
  requestId?: string;
  route?: string;
  userId?: string;
  tags?: Record<string, string | number>;
};

/** Sends an unexpected error to Sentry when it is on for this invocation; a no-op otherwise. */
export function reportError(error: unknown, context: ErrorContext = {}): void {
  const current = invocationScope.getStore();
  if (!current) return;
  const scope = current.clone();
  if (context.requestId) scope.setTag("request_id", context.requestId);
  if (context.route) scope.setTag("route", context.route);
  if (context.userId) scope.setUser({ id: context.userId });
  for (const [name, value] of Object.entries(context.tags ?? {})) scope.setTag(name, value);
  scope.captureException(error);
}

/**
 * The Worker's handlers, tracked for the invocations whose environment has a SENTRY_DSN and
 * left as they are for the others.
 */
export function withErrorTracking(handler: Partial<WorkerHandlers>): WorkerHandlers {
  const missing = (name: string) => new Error(`withErrorTracking: the Worker has no ${name} handler`);
  /** One invocation: tracked in a scope of its own when this environment has a DSN, as it is otherwise. */
  const invoke = <T>(env: Bindings, ctx: ExecutionContext, request: Request | undefined, run: () => T): T => {
    const client = clientFor(env);
    return client ? tracked(client, (promise) => ctx.waitUntil(promise), request, run) : run();
  };
  return {
    fetch: (request, env, ctx) => {
      const target = handler.fetch;
      if (!target) throw missing("fetch");
      return invoke(env, ctx, request, () => target(request, env, ctx));
    },
    queue: (batch, env, ctx) => {
      const target = handler.queue;
      if (!target) throw missing("queue");
      return invoke(env, ctx, undefined, () => target(batch, env, ctx));
    },
    scheduled: (controller, env, ctx) => {
      const target = handler.scheduled;
      if (!target) throw missing("scheduled");
      return invoke(env, ctx, undefined, () => target(controller, env, ctx));
    },
  };
}

/** The methods of a Durable Object class (its own and inherited ones, up to DurableObject's). */
function methodNames(prototype: object | null): Set<string> {
  const names = new Set<string>();
  for (let proto = prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (name !== "constructor" && typeof descriptor?.value === "function") names.add(name);
    }
  }
  return names;
}

/**
 * A Durable Object class whose instances report their own unexpected errors (fetch, alarms,
 * WebSocket handlers, RPC methods) to Sentry when their environment has a SENTRY_DSN. The
 * subclass is a real Durable Object (RPC keeps working); each method checks, per instance,
 * whether its environment asks for tracking.
 */
// biome-ignore lint/suspicious/noExplicitAny: TypeScript requires a mixin's base to be constructible from any[].
export function trackDurableObject<T extends new (...args: any[]) => object>(plain: T): T {
  const instances = new WeakMap<object, { client: CloudflareClient; state: DurableObjectState }>();
  const Tracked = class extends plain {
    // biome-ignore lint/suspicious/noExplicitAny: TypeScript requires a mixin constructor to take any[].
    constructor(...args: any[]) {
      super(...args);
      const client = clientFor(args[1] as Bindings);
      if (client) instances.set(this, { client, state: args[0] as DurableObjectState });
    }
  };
  for (const name of methodNames(plain.prototype)) {
    const original = (plain.prototype as Record<string, (...args: unknown[]) => unknown>)[name];
    if (!original) continue;
    Object.defineProperty(Tracked.prototype, name, {
      configurable: true,
      writable: true,
      value(this: object, ...args: unknown[]) {
        const tracking = instances.get(this);
        if (!tracking) return original.apply(this, args);
        const request = args[0] instanceof Request ? args[0] : undefined;
        return tracked(
          tracking.client,
          (promise) => tracking.state.waitUntil(promise),
          request,
          () => original.apply(this, args),
        );
      },
    });
  }
  Object.defineProperty(Tracked, "name", { value: plain.name });
  return Tracked;
}
