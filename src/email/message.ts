/**
 * The `email.send` queue message: one option per template, discriminated by
 * `template`, so the queue union in jobs/messages.ts checks each email's `data`
 * against its own template's schema, at the producer and again at the consumer.
 */
import { z } from "zod";
import { type EmailTemplateName, emailTemplates } from "./templates";

const common = {
  type: z.literal("email.send"),
  /** Our id for this email: the provider's idempotency key, and the key that ties its log lines together. */
  email_id: z.uuid(),
  to: z.email().max(254),
  queued_at: z.iso.datetime(),
  /** The request that asked for the email, when there was one. */
  request_id: z.string().max(200).optional(),
};

function sendOption<const T extends EmailTemplateName>(template: T) {
  return z.object({ ...common, template: z.literal(template), data: emailTemplates[template].schema });
}

export const emailSendMessage = z.discriminatedUnion("template", [
  sendOption("verify_email"),
  sendOption("welcome"),
  sendOption("password_reset"),
  sendOption("magic_code"),
  sendOption("org_invitation"),
  sendOption("billing_alert"),
  sendOption("new_device"),
  sendOption("notification"),
  sendOption("security_alert"),
  sendOption("sign_in_method_changed"),
  sendOption("account_exists"),
  sendOption("email_change_confirm"),
  sendOption("email_change_notice"),
  sendOption("identity_linked"),
  sendOption("passkey_changed"),
  sendOption("webhook_endpoint_disabled"),
]);

export type EmailSendMessage = z.infer<typeof emailSendMessage>;
