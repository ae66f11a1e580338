/**
 * Resend through its official SDK. The SDK calls the global `fetch` (POST
 * https://api.resend.com/emails) and runs unchanged in workerd; it never throws for
 * API errors but answers `{ data, error }`, and turns network failures into
 * `application_error` with a null status. Both become an EmailProviderError so the
 * queue retries them.
 */
import { Resend } from "resend";
import { type EmailProvider, EmailProviderError } from "../provider";

export function createResendProvider(options: { apiKey: string }): EmailProvider {
  const client = new Resend(options.apiKey);
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
      if (error) throw new EmailProviderError("resend", error.statusCode, error.name, error.message);
      return { provider: "resend", providerMessageId: data.id };
    },
  };
}
