/**
 * Cloudflare Email Sending through the Workers `send_email` binding (SEND_EMAIL in
 * wrangler.toml): the structured form of `send()` (from, to, subject, text, html,
 * headers), so no MIME is built here. The binding answers `{ messageId }` or throws an
 * Error whose `code` names the refusal (E_SENDER_NOT_VERIFIED, E_RATE_LIMIT_EXCEEDED …).
 * Locally, wrangler dev and the tests run the binding in miniflare, which keeps each
 * message (and logs where) instead of mailing it.
 * https://developers.cloudflare.com/email-service/api/send-emails/workers-api/
 */
import { parseMailbox } from "../mailbox";
import { type EmailProvider, EmailProviderError } from "../provider";

/**
 * The codes worth another try: Cloudflare throttling us, its own outage, or a delivery
 * that failed downstream. Every other documented code (validation, an unverified sender
 * or domain, a suppressed or disallowed recipient, a header it refuses) fails the same
 * way next time. An error without a code (the binding unreachable) is retried.
 */
const RETRYABLE_CODES = new Set([
  "E_RATE_LIMIT_EXCEEDED",
  "E_DAILY_LIMIT_EXCEEDED",
  "E_INTERNAL_SERVER_ERROR",
  "E_DELIVERY_FAILED",
]);

export function createCloudflareEmailProvider(binding: SendEmail): EmailProvider {
  return {
    name: "cloudflare",
    async send(email) {
      const from = parseMailbox(email.from);
      try {
        const sent = await binding.send({
          from: from.name ? { email: from.email, name: from.name } : from.email,
          to: email.to,
          subject: email.subject,
          text: email.text,
          html: email.html,
          headers: email.headers,
        });
        return { provider: "cloudflare", providerMessageId: sent.messageId };
      } catch (error) {
        const code =
          error instanceof Error && typeof (error as { code?: unknown }).code === "string"
            ? (error as Error & { code: string }).code
            : undefined;
        const message = error instanceof Error ? error.message : String(error);
        throw new EmailProviderError(
          "cloudflare",
          null,
          code ?? "binding_error",
          message,
          code === undefined || RETRYABLE_CODES.has(code),
        );
      }
    },
  };
}
