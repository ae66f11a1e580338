/**
 * What every email provider does: take one fully rendered message and hand it
 * over, or throw. The consumer picks the provider from EMAIL_PROVIDER, so switching
 * from the console to Resend is configuration, never code.
 */

export type EmailProviderName = "resend" | "console";

export type OutgoingEmail = {
  /** Our email id (queue message `email_id`): sent as the provider's idempotency key. */
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

/** A provider refused or could not be reached; the queue retries the message. */
export class EmailProviderError extends Error {
  constructor(
    readonly provider: EmailProviderName,
    /** HTTP status of the provider's answer; null when no answer came back (network, timeout). */
    readonly status: number | null,
    /** The provider's error name, e.g. Resend's `validation_error` or `rate_limit_exceeded`. */
    readonly code: string,
    message: string,
  ) {
    super(`${provider} refused the email (${status ?? "no response"} ${code}): ${message}`);
    this.name = "EmailProviderError";
  }
}
