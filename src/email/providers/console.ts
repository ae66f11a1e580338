/**
 * The development and test provider: "sends" by writing the whole rendered message
 * as one structured JSON line, so a developer reads links and codes in the terminal
 * (`wrangler dev`, `wrangler tail`) without an email account.
 */
import { createLogger } from "../../lib/logger";
import type { EmailProvider } from "../provider";

export function createConsoleProvider(): EmailProvider {
  // Its own logger at "debug": this line *is* the delivery, so LOG_LEVEL must not filter it out.
  const out = createLogger("debug", { provider: "console" });
  return {
    name: "console",
    async send(email) {
      out.info("email delivered to console", {
        email_id: email.id,
        from: email.from,
        to: email.to,
        subject: email.subject,
        tags: email.tags,
        headers: email.headers,
        text: email.text,
        html: email.html,
      });
      return { provider: "console", providerMessageId: `console-${email.id}` };
    },
  };
}
