/**
 * The `email.send` queue handler: render the template, hand the message to the
 * configured provider, and report the outcome. A throw means "retry": the consumer
 * retries with backoff and, after the consumer's max_retries, the queue dead-letters it.
 */
import { getConfig } from "../env";
import type { QueueHandlerDeps } from "../jobs/consumer";
import { keepDeliveredEmail } from "../modules/dev-mailbox/dev-mailbox.service";
import { emitEmailEvent } from "./events";
import type { EmailSendMessage } from "./message";
import { EmailProviderError } from "./provider";
import { createEmailProvider } from "./providers";
import { renderEmail, siteFromConfig } from "./render";

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
    const provider = createEmailProvider(config);
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
    if (config.DEV_MAILBOX_ENABLED) {
      // Development: a copy for GET /dev/mailbox, whatever the provider. It never throws, so a
      // failure to keep the copy cannot make the queue retry (and send again) a delivered email.
      await keepDeliveredEmail(
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
    emitEmailEvent(
      {
        ...outcome,
        outcome: "failed",
        final: deps.lastAttempt,
        error_code:
          error instanceof EmailProviderError ? error.code : error instanceof Error ? error.name : "Error",
        status: error instanceof EmailProviderError ? error.status : null,
      },
      deps.env,
      logger,
    );
    throw error;
  }
}
