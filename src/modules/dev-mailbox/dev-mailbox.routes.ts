import { defineRoute, jsonContent, problemResponse } from "../../lib/openapi";
import { devMailboxEnabled } from "./dev-mailbox.guard";
import { MailboxListSchema, MailboxQuery, mailboxEmailExample } from "./dev-mailbox.schemas";

export const listJson = defineRoute({
  method: "get",
  path: "/mailbox.json",
  tags: ["Development"],
  summary: "Emails sent in the last day (development only)",
  description: [
    "Every email the email queue consumer delivered in the last 24 hours, newest first, with its text and HTML,",
    "whatever EMAIL_PROVIDER is: read sign-in codes and links from scripts and tests. `GET /dev/mailbox` shows",
    "the same emails as web pages. On only where DEV_MAILBOX_ENABLED is (by default in development);",
    "elsewhere this route answers 404, and staging and production refuse to turn it on.",
  ].join(" "),
  middleware: [devMailboxEnabled],
  request: { query: MailboxQuery },
  responses: {
    200: jsonContent(MailboxListSchema, "The emails, newest first.", { data: [mailboxEmailExample] }),
    400: problemResponse(400, "`limit` or `to` is not valid."),
    404: problemResponse(404, "The mailbox is off (DEV_MAILBOX_ENABLED, staging, production)."),
    429: problemResponse(429),
  },
});
