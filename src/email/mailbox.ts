/**
 * A sender as EMAIL_FROM writes it, `addr@example.com` or `Display Name <addr@example.com>`,
 * split into its parts: SendGrid and Cloudflare Email Sending take the name and the address
 * as separate fields, where Resend, Postmark and Mailgun take the header form as is.
 */
export type Mailbox = { email: string; name?: string };

export function parseMailbox(value: string): Mailbox {
  const named = /^([^<>\r\n]*)<([^<>\r\n]+)>$/.exec(value.trim());
  if (!named) return { email: value.trim() };
  // A quoted display name ("Acme, Inc." <…>) is sent without its quotes: the providers quote it again.
  const name = (named[1] ?? "")
    .trim()
    .replace(/^"(.*)"$/, "$1")
    .trim();
  const email = (named[2] ?? "").trim();
  return name ? { email, name } : { email };
}
