/**
 * What every email provider does: take one fully rendered message and hand it
 * over, or throw. The consumer picks the provider from EMAIL_PROVIDER, so switching
 * from the console to Resend, Postmark, SendGrid, Mailgun or Cloudflare Email Sending
 * is configuration, never code.
 */

/** Every value EMAIL_PROVIDER takes (src/env.ts validates against this list). */
export const EMAIL_PROVIDERS = [
  "console",
  "resend",
  "postmark",
  "sendgrid",
  "mailgun",
  "cloudflare",
] as const;

export type EmailProviderName = (typeof EMAIL_PROVIDERS)[number];

/**
 * The secret each provider's API needs (null: none). Delivery checks it is set
 * (providers/index.ts → emailProviderIssues), and so does `npm run config:check` before a deploy.
 */
export const EMAIL_PROVIDER_SECRETS = {
  console: null,
  resend: "RESEND_API_KEY",
  postmark: "POSTMARK_SERVER_TOKEN",
  sendgrid: "SENDGRID_API_KEY",
  mailgun: "MAILGUN_API_KEY",
  cloudflare: null,
} as const satisfies Record<EmailProviderName, string | null>;

export type OutgoingEmail = {
  /** Our email id (queue message `email_id`): sent as the provider's idempotency key where it has one. */
  id: string;
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Provider-side labels (Resend tags: ASCII letters, digits, `_` and `-` only). */
  tags: { name: string; value: string }[];
  headers: Record<string, string>;
};

export type SentEmail = { provider: EmailProviderName; providerMessageId: string };

export interface EmailProvider {
  readonly name: EmailProviderName;
  send(email: OutgoingEmail): Promise<SentEmail>;
}

/**
 * A provider refused the email or could not be reached. `retryable` says what the
 * consumer does with it: a rate limit, a server error or no answer at all is retried
 * with the queue's backoff; a refusal that would be the same next time (bad credentials,
 * an address or sender the provider will not take) is given up at once, so it neither
 * burns the provider's quota nor waits minutes in the queue before the dead letter.
 */
export class EmailProviderError extends Error {
  constructor(
    readonly provider: EmailProviderName,
    /** HTTP status of the provider's answer; null when no answer came back (network, timeout, a binding). */
    readonly status: number | null,
    /** The provider's error name, e.g. Resend's `validation_error`, Postmark's `ErrorCode` 406, `E_RATE_LIMIT_EXCEEDED`. */
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(`${provider} refused the email (${status ?? "no response"} ${code}): ${message}`);
    this.name = "EmailProviderError";
  }
}

/**
 * Whether an HTTP answer of an email API is worth another try: 408 and 429 (slow down),
 * 5xx (their outage), or none at all (network). Every other 4xx (401 bad key, 403, 422
 * invalid recipient) would fail the same way again.
 */
export function isRetryableStatus(status: number | null): boolean {
  return status === null || status === 408 || status === 429 || status >= 500;
}
