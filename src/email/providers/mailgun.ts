/**
 * Mailgun: `POST {base}/v3/{domain}/messages` with HTTP Basic `api:<key>` and the
 * message as multipart form fields (`from`, `to`, `subject`, `text`, `html`, `o:tag`,
 * `h:<header>`, `v:<variable>`). Success is 200 `{ id, message: "Queued. Thank you." }`;
 * a refusal is `{ message }` (401 is a plain `Forbidden`). Domains in the EU region are
 * served by https://api.eu.mailgun.net: set EMAIL_API_BASE_URL to it.
 * https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages
 */
import type { EmailProvider } from "../provider";
import { apiBase, callEmailApi, readErrorBody, refusal, statusName } from "./http";

export const MAILGUN_API_BASE = "https://api.mailgun.net";

export function createMailgunProvider(options: {
  apiKey: string;
  domain: string;
  baseUrl?: string;
}): EmailProvider {
  const url = `${apiBase(options.baseUrl, MAILGUN_API_BASE)}/v3/${encodeURIComponent(options.domain)}/messages`;
  const authorization = `Basic ${btoa(`api:${options.apiKey}`)}`;
  return {
    name: "mailgun",
    async send(email) {
      // Multipart rather than urlencoded: an HTML part percent-encoded grows by half.
      const form = new FormData();
      form.append("from", email.from);
      form.append("to", email.to);
      form.append("subject", email.subject);
      form.append("text", email.text);
      form.append("html", email.html);
      for (const tag of email.tags) {
        if (tag.name === "template") form.append("o:tag", tag.value);
        form.append(`v:${tag.name}`, tag.value);
      }
      for (const [name, value] of Object.entries(email.headers)) form.append(`h:${name}`, value);

      const response = await callEmailApi("mailgun", url, {
        method: "POST",
        headers: { Authorization: authorization },
        body: form,
      });
      if (response.ok) {
        const accepted = (await response.json()) as { id?: string };
        return { provider: "mailgun", providerMessageId: accepted.id ?? "" };
      }
      const { text, json } = await readErrorBody(response, [options.apiKey, authorization]);
      const message = (json as { message?: unknown } | undefined)?.message;
      throw refusal(
        "mailgun",
        response.status,
        statusName(response.status),
        typeof message === "string" ? message : text || response.statusText,
      );
    },
  };
}
