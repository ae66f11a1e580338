/**
 * The one way the HTTP email providers (Postmark, SendGrid, Mailgun) call their API:
 * a timeout, network failures turned into a retryable EmailProviderError, and error
 * answers read the same way everywhere (the documented body, bounded, with our own
 * key scrubbed in case a provider ever echoes it), so what reaches the logs is the
 * provider's explanation and never a secret.
 */
import { EmailProviderError, type EmailProviderName, isRetryableStatus } from "../provider";

/** Longer than any provider takes to accept one message; shorter than a queue consumer may run. */
export const EMAIL_API_TIMEOUT_MS = 15_000;

/** How much of an error body is kept: enough for every provider's documented error, never a whole HTML page. */
const ERROR_BODY_LIMIT = 1_000;

export async function callEmailApi(
  provider: EmailProviderName,
  url: string,
  init: RequestInit,
): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(EMAIL_API_TIMEOUT_MS) });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    throw new EmailProviderError(
      provider,
      null,
      timedOut ? "timeout" : "network_error",
      timedOut
        ? `no answer within ${EMAIL_API_TIMEOUT_MS} ms`
        : error instanceof Error
          ? error.message
          : String(error),
      true,
    );
  }
}

/** An error answer's body as text (bounded, secrets replaced) and, when it is JSON, parsed. */
export async function readErrorBody(
  response: Response,
  secrets: readonly string[],
): Promise<{ text: string; json: unknown }> {
  let text = (await response.text().catch(() => "")).slice(0, ERROR_BODY_LIMIT);
  for (const secret of secrets) if (secret) text = text.replaceAll(secret, "[redacted]");
  try {
    return { text, json: JSON.parse(text) as unknown };
  } catch {
    return { text, json: undefined };
  }
}

/** A name for an HTTP status, for providers whose error bodies carry no error name of their own. */
export function statusName(status: number): string {
  const names: Record<number, string> = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    413: "payload_too_large",
    422: "unprocessable_entity",
    429: "rate_limited",
  };
  return names[status] ?? (status >= 500 ? "server_error" : `http_${status}`);
}

/** The EmailProviderError for an error answer: retried on 408, 429 and 5xx, given up otherwise. */
export function refusal(
  provider: EmailProviderName,
  status: number,
  code: string,
  message: string,
): EmailProviderError {
  return new EmailProviderError(provider, status, code, message, isRetryableStatus(status));
}

/** An API base from EMAIL_API_BASE_URL (or the provider's own), without a trailing slash. */
export function apiBase(configured: string | undefined, fallback: string): string {
  return (configured ?? fallback).replace(/\/+$/, "");
}
