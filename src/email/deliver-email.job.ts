/**
 * The `email.send` queue handler: render the template, hand the message to the
 * configured provider, and report the outcome. A throw means "retry": the consumer
 * retries with backoff and, after the consumer's max_retries, the queue dead-letters it.
 * A refusal the provider would repeat (EmailProviderError with `retryable: false`: a bad
 * key, a recipient it will not take) is logged with the provider's explanation and
 * acknowledged: retrying it would only spend quota and delay the dead letter.
 */
import { type Bindings, getConfig } from "../env";
import type { QueueHandlerDeps } from "../jobs/queue-handler";
import type { Logger } from "../lib/logger";
import { emitEmailEvent } from "./events";
import type { EmailSendMessage } from "./message";
import { EmailProviderError } from "./provider";
import { createEmailProvider } from "./providers";
import { renderEmail, siteFromConfig } from "./render";

/** An email the provider accepted, as rendered. */
export type DeliveredEmail = {
  email_id: string;
  template: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  provider: string;
};

/**
 * Who else is shown an email once the provider accepted it (in development, the dev
 * mailbox keeps a copy). Listed in src/modules/wiring.ts. An observer must not throw:
 * the email has gone out, and a throw here would make the queue send it again.
 */
export type DeliveredEmailObserver = (
  deps: { env: Bindings; logger: Logger },
  email: DeliveredEmail,
) => Promise<void>;
export const deliveredEmailObservers: DeliveredEmailObserver[] = [];

export async function deliverEmail(message: EmailSendMessage, deps: QueueHandlerDeps): Promise<void> {
  const config = getConfig(deps.env);
  const logger = deps.logger.child({ email_id: message.email_id, template: message.template });
  const outcome = {
    email_id: message.email_id,
    template: message.template,
    provider: config.EMAIL_PROVIDER,
    attempts: deps.attempts,
  };
  try {
    const provider = createEmailProvider(config, deps.env);
    const rendered = renderEmail(message.template, message.data, siteFromConfig(config));
    const sent = await provider.send({
      id: message.email_id,
      from: config.EMAIL_FROM,
      to: message.to,
      ...rendered,
      tags: [
        { name: "template", value: message.template },
        { name: "email_id", value: message.email_id },
      ],
      // A unique reference per email keeps Gmail from folding similar emails (two sign-in codes) into one thread.
      headers: { "X-Entity-Ref-ID": message.email_id },
    });
    logger.info("email sent", { provider: sent.provider, provider_message_id: sent.providerMessageId });
    emitEmailEvent(
      { ...outcome, outcome: "sent", provider_message_id: sent.providerMessageId },
      deps.env,
      logger,
    );
    for (const observe of deliveredEmailObservers) {
      await observe(
        { env: deps.env, logger },
        {
          email_id: message.email_id,
          template: message.template,
          from: config.EMAIL_FROM,
          to: message.to,
          provider: sent.provider,
          ...rendered,
        },
      );
    }
  } catch (error) {
    const givenUp = error instanceof EmailProviderError && !error.retryable;
    emitEmailEvent(
      {
        ...outcome,
        outcome: "failed",
        final: givenUp || deps.lastAttempt,
        error_code:
          error instanceof EmailProviderError ? error.code : error instanceof Error ? error.name : "Error",
        status: error instanceof EmailProviderError ? error.status : null,
      },
      deps.env,
      logger,
    );
    if (!givenUp) throw error;
    // The message names the provider's error and its own explanation (never our key); `to` finds the account.
    logger.error("email refused by the provider; not retried", {
      provider: error.provider,
      status: error.status,
      error_code: error.code,
      error: error.message,
      to: message.to,
    });
  }
}
