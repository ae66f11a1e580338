/**
 * SendGrid v3 Mail Send: `POST {base}/v3/mail/send` with `Authorization: Bearer <key>`
 * and one personalization per recipient; the text part must come before the HTML
 * part. Success is `202 Accepted` with an empty body and the message id in
 * `X-Message-Id`; a refusal is `{ errors: [{ message, field, help }] }`.
 * https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
 */
import { parseMailbox } from "../mailbox";
import type { EmailProvider } from "../provider";
import { apiBase, callEmailApi, readErrorBody, refusal, statusName } from "./http";

/** EU-pinned subusers use https://api.eu.sendgrid.com (set EMAIL_API_BASE_URL). */
export const SENDGRID_API_BASE = "https://api.sendgrid.com";

export function createSendgridProvider(options: { apiKey: string; baseUrl?: string }): EmailProvider {
  const url = `${apiBase(options.baseUrl, SENDGRID_API_BASE)}/v3/mail/send`;
  return {
    name: "sendgrid",
    async send(email) {
      const response = await callEmailApi("sendgrid", url, {
        method: "POST",
        headers: { Authorization: `Bearer ${options.apiKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          personalizations: [{ to: [{ email: email.to }] }],
          from: parseMailbox(email.from),
          subject: email.subject,
          content: [
            { type: "text/plain", value: email.text },
            { type: "text/html", value: email.html },
          ],
          headers: email.headers,
          // Categories filter SendGrid's statistics; custom_args come back on its event webhooks.
          categories: email.tags.filter((tag) => tag.name === "template").map((tag) => tag.value),
          custom_args: Object.fromEntries(email.tags.map((tag) => [tag.name, tag.value])),
        }),
      });
      if (response.ok) {
        await response.body?.cancel();
        return { provider: "sendgrid", providerMessageId: response.headers.get("x-message-id") ?? "" };
      }
      const { text, json } = await readErrorBody(response, [options.apiKey]);
      const errors = (json as { errors?: Array<{ message?: unknown; field?: unknown }> } | undefined)?.errors;
      const message = Array.isArray(errors)
        ? errors
            .map((error) =>
              [typeof error.field === "string" ? `${error.field}:` : "", String(error.message ?? "")]
                .join(" ")
                .trim(),
            )
            .join("; ")
        : text || response.statusText;
      throw refusal("sendgrid", response.status, statusName(response.status), message);
    },
  };
}
