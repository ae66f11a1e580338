/**
 * The Stripe SDK, configured for Workers: the fetch HTTP client and the
 * SubtleCrypto provider (webhook signatures). The SDK is imported on first use
 * (dynamic import), so the isolates that never touch billing never evaluate it;
 * the client is built once per isolate and secret key.
 *
 * Every Stripe call goes through `callStripe()`, which turns the SDK's errors into
 * the API's problems: unreachable / 5xx / rate limited → 503
 * `payment_provider_unavailable` (retry), anything else Stripe refuses → 502
 * `payment_provider_error` (our bug or our configuration; logged with Stripe's
 * request id, never shown to the client).
 */
import type Stripe from "stripe";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { billingNotConfigured, paymentProviderError, paymentProviderUnavailable } from "./billing.problems";

export type StripeSdk = typeof Stripe;
export type StripeClient = Stripe;

let sdk: Promise<StripeSdk> | undefined;

export function loadStripeSdk(): Promise<StripeSdk> {
  sdk ??= import("stripe").then((module) => module.default);
  return sdk;
}

/** Retries of a failed call (network errors, 409 lock timeouts, 5xx), each with the same idempotency key. */
const MAX_NETWORK_RETRIES = 2;
const TIMEOUT_MS = 10_000;

const clients = new Map<string, StripeClient>();

/** The Stripe API client; 503 `billing_not_configured` without STRIPE_SECRET_KEY. */
export async function stripeClient(ctx: ServiceContext): Promise<StripeClient> {
  const key = ctx.config.STRIPE_SECRET_KEY;
  if (!key) {
    ctx.logger.error("billing is not configured: STRIPE_SECRET_KEY is missing");
    throw billingNotConfigured();
  }
  const existing = clients.get(key);
  if (existing) return existing;
  const StripeSdk = await loadStripeSdk();
  const client = new StripeSdk(key, {
    // Looks `fetch` up on every call rather than capturing it once: the same function in
    // production, and what lets tests replace Stripe at the fetch boundary.
    httpClient: StripeSdk.createFetchHttpClient((input, init) => globalThis.fetch(input, init)),
    maxNetworkRetries: MAX_NETWORK_RETRIES,
    timeout: TIMEOUT_MS,
    telemetry: false,
    appInfo: { name: "edge-api-platform" },
  });
  clients.set(key, client);
  return client;
}

/** Runs one Stripe call, mapping its failure to a problem (see the top of this file). */
export async function callStripe<T>(ctx: ServiceContext, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const details = stripeErrorDetails(error);
    ctx.logger.error(`stripe call failed: ${what}`, { ...details, error: serializeError(error) });
    throw details.retryable ? paymentProviderUnavailable() : paymentProviderError();
  }
}

type StripeErrorDetails = {
  retryable: boolean;
  stripe_type?: string;
  stripe_code?: string;
  stripe_status?: number;
  stripe_request_id?: string;
};

/** What the log needs from a Stripe SDK error, and whether retrying later could help. */
export function stripeErrorDetails(error: unknown): StripeErrorDetails {
  if (typeof error !== "object" || error === null || !("type" in error)) return { retryable: true };
  const fields = error as { type?: unknown; code?: unknown; statusCode?: unknown; requestId?: unknown };
  const type = typeof fields.type === "string" ? fields.type : undefined;
  const status = typeof fields.statusCode === "number" ? fields.statusCode : undefined;
  return {
    retryable:
      type === "StripeConnectionError" ||
      type === "StripeAPIError" ||
      type === "StripeRateLimitError" ||
      (status !== undefined && status >= 500),
    stripe_type: type,
    stripe_code: typeof fields.code === "string" ? fields.code : undefined,
    stripe_status: status,
    stripe_request_id: typeof fields.requestId === "string" ? fields.requestId : undefined,
  };
}
