/**
 * Postmark: `POST {base}/email` with the server token in `X-Postmark-Server-Token`
 * and the message as Postmark's PascalCase JSON (From, To, Subject, HtmlBody,
 * TextBody, MessageStream). Success is 200 `{ MessageID, ErrorCode: 0 }`; a refusal
 * is `{ ErrorCode, Message }` (422 for an inactive recipient, an unconfirmed sender,
 * a bad token; 401 for a missing one). https://postmarkapp.com/developer/api/email-api
 */
import type { EmailProvider } from "../provider";
import { apiBase, callEmailApi, readErrorBody, refusal } from "./http";

export const POSTMARK_API_BASE = "https://api.postmarkapp.com";

/** Postmark's default transactional stream: every email here is one a person asked for. */
const MESSAGE_STREAM = "outbound";

export function createPostmarkProvider(options: { serverToken: string; baseUrl?: string }): EmailProvider {
  const url = `${apiBase(options.baseUrl, POSTMARK_API_BASE)}/email`;
  return {
    name: "postmark",
    async send(email) {
      const response = await callEmailApi("postmark", url, {
        method: "POST",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/json",
          "X-Postmark-Server-Token": options.serverToken,
        },
        body: JSON.stringify({
          From: email.from,
          To: email.to,
          Subject: email.subject,
          HtmlBody: email.html,
          TextBody: email.text,
          MessageStream: MESSAGE_STREAM,
          // Postmark has one Tag per message: the template, to filter its activity feed by.
          Tag: email.tags.find((tag) => tag.name === "template")?.value,
          Metadata: Object.fromEntries(email.tags.map((tag) => [tag.name, tag.value])),
          Headers: Object.entries(email.headers).map(([Name, Value]) => ({ Name, Value })),
        }),
      });
      if (response.ok) {
        const accepted = (await response.json()) as { MessageID?: string };
        return { provider: "postmark", providerMessageId: accepted.MessageID ?? "" };
      }
      const { text, json } = await readErrorBody(response, [options.serverToken]);
      const body = (json ?? {}) as { ErrorCode?: unknown; Message?: unknown };
      const code =
        typeof body.ErrorCode === "number" ? `error_code_${body.ErrorCode}` : `http_${response.status}`;
      const message = typeof body.Message === "string" ? body.Message : text || response.statusText;
      throw refusal("postmark", response.status, code, message);
    },
  };
}
