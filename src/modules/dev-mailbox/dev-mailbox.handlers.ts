import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { getConfig } from "../../env";
import { randomToken } from "../../lib/crypto";
import { problems } from "../../lib/problem";
import { validationProblem } from "../../lib/validation";
import { emailPage, listPage, mailboxCsp } from "./dev-mailbox.pages";
import type * as routes from "./dev-mailbox.routes";
import { MailboxQuery } from "./dev-mailbox.schemas";
import { getMailboxEmail, listMailbox, listMailboxWithBodies } from "./dev-mailbox.service";

/** Emails change with every delivery and hold sign-in codes: never cached anywhere. */
const NO_STORE = { "Cache-Control": "no-store" };

export const listJson: RouteHandler<typeof routes.listJson, AppEnv> = async (c) => {
  const emails = await listMailboxWithBodies(c.get("ctx"), c.req.valid("query"));
  return c.json({ data: emails }, 200, NO_STORE);
};

function htmlPage(c: Context<AppEnv>, render: (nonce: string) => string): Response {
  const nonce = randomToken(16);
  return c.html(render(nonce), 200, { ...NO_STORE, "Content-Security-Policy": mailboxCsp(nonce) });
}

/** GET /dev/mailbox: the list page; takes the JSON route's `limit` and `to`. */
export async function listPageHandler(c: Context<AppEnv>): Promise<Response> {
  const parsed = MailboxQuery.safeParse(c.req.query());
  if (!parsed.success) throw validationProblem(parsed.error, "query");
  const emails = await listMailbox(c.get("ctx"), parsed.data);
  const now = Date.now();
  const appName = getConfig(c.env).APP_NAME;
  return htmlPage(c, (nonce) => listPage({ appName, emails, ...parsed.data, nonce, now }));
}

/** GET /dev/mailbox/{id}: one email, rendered. */
export async function emailPageHandler(c: Context<AppEnv>): Promise<Response> {
  const email = await getMailboxEmail(c.get("ctx"), c.req.param("id") ?? "");
  if (!email) throw problems.notFound("email");
  const now = Date.now();
  const appName = getConfig(c.env).APP_NAME;
  return htmlPage(c, (nonce) => emailPage({ appName, email, nonce, now }));
}
