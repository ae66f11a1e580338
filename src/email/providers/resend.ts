/**
 * Resend through its official SDK. The SDK calls the global `fetch` (POST
 * {base}/emails, base https://api.resend.com unless EMAIL_API_BASE_URL says otherwise)
 * and runs unchanged in workerd; it never throws for API errors but answers
 * `{ data, error }` (`{ statusCode, name, message }`), and turns network failures into
 * `application_error` with a null status. Both become an EmailProviderError: retried on
 * 429, 5xx and no answer, given up on the other refusals (401 `missing_api_key`, 403,
 * 422 `validation_error`).
 */
import { Resend } from "resend";
import { type EmailProvider, EmailProviderError, isRetryableStatus } from "../provider";
import { apiBase } from "./http";

export const RESEND_API_BASE = "https://api.resend.com";

export function createResendProvider(options: { apiKey: string; baseUrl?: string }): EmailProvider {
  const client = new Resend(options.apiKey, { baseUrl: apiBase(options.baseUrl, RESEND_API_BASE) });
  return {
    name: "resend",
    async send(email) {
      const { data, error } = await client.emails.send(
        {
          from: email.from,
          to: email.to,
          subject: email.subject,
          html: email.html,
          text: email.text,
          tags: email.tags,
          headers: email.headers,
        },
        // Queues deliver at least once: if Resend accepted the email but our ack was lost, the
        // redelivery carries the same key and Resend answers the first result instead of sending twice.
        { idempotencyKey: `email-send/${email.id}` },
      );
      if (error) {
        const status = error.statusCode ?? null;
        throw new EmailProviderError("resend", status, error.name, error.message, isRetryableStatus(status));
      }
      return { provider: "resend", providerMessageId: data.id };
    },
  };
}
