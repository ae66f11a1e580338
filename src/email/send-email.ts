/**
 * The one way the platform sends email: `sendEmail(ctx, { template, to, data })`
 * checks `data` against the template's schema and enqueues an `email.send` message on
 * EMAIL_QUEUE; the queue consumer renders and delivers it (deliver-email.job.ts). Callers never
 * wait on the provider, and a provider outage never fails the request that asked for
 * the email.
 */
import type { Bindings } from "../env";
import { enqueue } from "../jobs/enqueue";
import type { ServiceContext } from "../lib/context";
import { uuidv7 } from "../lib/ids";
import { emailSendMessage } from "./message";
import type { EmailTemplateInput, EmailTemplateName } from "./templates";

export type SendEmailInput = {
  [T in EmailTemplateName]: { template: T; to: string; data: EmailTemplateInput<T> };
}[EmailTemplateName];

export type SendEmailOptions = {
  /** Hold the email back this long (at most 12 hours, the Queues limit). */
  delaySeconds?: number;
};

/**
 * The data does not fit the template: a bug in the calling code, not in the client's
 * request, so it is deliberately not a ZodError (which the API answers as a 400).
 * The message names the fields, never their values: those may be tokens.
 */
export class EmailDataError extends Error {
  constructor(
    readonly template: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(
      `Invalid email for template "${template}": ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`,
    );
    this.name = "EmailDataError";
  }
}

export async function sendEmail(
  target: ServiceContext | Bindings,
  input: SendEmailInput,
  options: SendEmailOptions = {},
): Promise<{ emailId: string }> {
  const { env, ctx } =
    "EMAIL_QUEUE" in target ? { env: target, ctx: undefined } : { env: target.env, ctx: target };
  const parsed = emailSendMessage.safeParse({
    type: "email.send",
    email_id: uuidv7(),
    queued_at: new Date().toISOString(),
    request_id: ctx?.requestId,
    template: input.template,
    to: input.to,
    data: input.data,
  });
  if (!parsed.success) {
    throw new EmailDataError(
      String(input.template),
      parsed.error.issues.map((issue) => ({
        path: issue.path.join(".") || "(root)",
        message: issue.message,
      })),
    );
  }
  await enqueue(env.EMAIL_QUEUE, parsed.data, { ...options, d1Session: ctx?.dbSession });
  ctx?.logger.info("email queued", { email_id: parsed.data.email_id, template: parsed.data.template });
  return { emailId: parsed.data.email_id };
}
