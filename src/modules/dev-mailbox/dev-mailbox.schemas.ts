import { z } from "@hono/zod-openapi";
import { limitParam } from "../../lib/list-query";

export const mailboxEmailExample = {
  id: "8235164823176-0193a1f2-6c3d-7e4f-8a5b-9c0d1e2f3a4b",
  email_id: "0193a1f2-6c3d-7e4f-8a5b-9c0d1e2f3a4b",
  template: "magic_code",
  from: "Edge API Platform <no-reply@example.com>",
  to: "ada@example.com",
  subject: "Your Edge API Platform sign-in code",
  sent_at: "2026-11-21T09:12:44.512Z",
  provider: "console",
  text: "Your sign-in code\n\nEnter this code to sign in: 48213077\n\nOr open this link: http://localhost:5173/magic-verify?token=ml_…\n",
  html: '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Your Edge API Platform sign-in code</title></head><body>…</body></html>',
};

export const MailboxEmailSchema = z
  .object({
    id: z.string().openapi({
      description: "This copy's id: the page `GET /dev/mailbox/{id}` shows it rendered.",
      example: mailboxEmailExample.id,
    }),
    email_id: z.uuid().openapi({ description: "The `email_id` of the queue message and the logs." }),
    template: z.string().openapi({ example: "magic_code" }),
    from: z.string(),
    to: z.string(),
    subject: z.string(),
    sent_at: z.iso.datetime().openapi({ description: "When the consumer delivered it." }),
    provider: z
      .string()
      .openapi({ description: "The EMAIL_PROVIDER that delivered it.", example: "console" }),
    text: z.string().openapi({ description: "The plain-text part." }),
    html: z.string().openapi({ description: "The HTML part (a complete document)." }),
  })
  .openapi("DevMailboxEmail");

export const MailboxListSchema = z
  .object({ data: z.array(MailboxEmailSchema) })
  .openapi("DevMailboxList", { description: "Newest first." });

export const MailboxQuery = z.object({
  limit: limitParam,
  to: z
    .email()
    .max(254)
    .optional()
    .openapi({
      param: { name: "to", in: "query" },
      description: "Only emails to this address (compared in any letter case).",
      example: "ada@example.com",
    }),
});
