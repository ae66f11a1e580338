/**
 * The mailbox's two web pages, rendered here with no script and nothing loaded from
 * elsewhere. Every value goes through the `html` tag (escaped); an email's own HTML is shown
 * in a sandboxed iframe (srcdoc: no scripts, no same-origin access, links open in a new tab),
 * and its text part with its links made clickable.
 */
import { html, SafeHtml } from "../../email/templates/html";
import type { MailboxEmail, MailboxSummary } from "./dev-mailbox.service";

export const MAILBOX_PATH = "/dev/mailbox";

/**
 * No scripts at all; our one <style> element by nonce. A srcdoc iframe inherits this policy, and
 * emails are styled with inline `style` attributes (many mail clients drop <style>), hence
 * style-src-attr. Images only as data: URLs, so a remote image cannot report that an email was opened.
 */
export function mailboxCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    "style-src-attr 'unsafe-inline'",
    "img-src data:",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/** Our own stylesheet: trusted text, inserted as is (escaping would break its quotes). */
const STYLE = new SafeHtml(`
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #18181b; background: #f4f4f5; }
header, main { max-width: 1040px; margin: 0 auto; padding: 16px 24px; }
header { display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 15px; margin: 24px 0 8px; }
a { color: #2563eb; }
.muted { color: #71717a; }
table.list { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #e4e4e7; }
table.list th, table.list td { text-align: left; padding: 8px 12px; border-bottom: 1px solid #e4e4e7; vertical-align: top; }
table.list th { font-weight: 600; background: #fafafa; }
table.list td.subject { width: 45%; word-break: break-word; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; background: #fff; border: 1px solid #e4e4e7; padding: 12px 16px; }
dt { color: #71717a; }
dd { margin: 0; word-break: break-word; }
iframe { width: 100%; height: 70vh; border: 1px solid #e4e4e7; background: #fff; }
pre { white-space: pre-wrap; word-break: break-word; background: #fff; border: 1px solid #e4e4e7; padding: 12px 16px; margin: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
`);

function page(input: { title: string; nonce: string; body: SafeHtml }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${input.title}</title>
<style nonce="${input.nonce}">${STYLE}</style>
</head>
<body>
${input.body}
</body>
</html>
`.value;
}

const utc = new Intl.DateTimeFormat("en-GB", {
  dateStyle: "medium",
  timeStyle: "medium",
  timeZone: "UTC",
});

/** "21 Nov 2026, 09:12:44 UTC (3 min ago)" */
function when(iso: string, now: number): string {
  const at = Date.parse(iso);
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  const ago =
    seconds < 60
      ? `${seconds} s ago`
      : seconds < 3600
        ? `${Math.floor(seconds / 60)} min ago`
        : `${Math.floor(seconds / 3600)} h ago`;
  return `${utc.format(at)} UTC (${ago})`;
}

const emailHref = (id: string) => `${MAILBOX_PATH}/${encodeURIComponent(id)}`;

export function listPage(input: {
  appName: string;
  emails: MailboxSummary[];
  limit: number;
  to?: string;
  nonce: string;
  now: number;
}): string {
  const jsonHref = `${MAILBOX_PATH}.json${input.to ? `?to=${encodeURIComponent(input.to)}` : ""}`;
  const rows = input.emails.map(
    (email) =>
      html`<tr>
<td><time datetime="${email.sent_at}">${when(email.sent_at, input.now)}</time></td>
<td>${email.to}</td>
<td class="subject"><a href="${emailHref(email.id)}">${email.subject || "(no subject)"}</a></td>
<td><code>${email.template}</code></td>
</tr>`,
  );
  const body = html`<header>
<h1>Dev mailbox</h1>
<span class="muted">${input.appName} · emails delivered in the last 24 hours, newest first${input.to ? html` · to <strong>${input.to}</strong> (<a href="${MAILBOX_PATH}">all</a>)` : ""}</span>
<a href="${input.to ? `${MAILBOX_PATH}?to=${encodeURIComponent(input.to)}` : MAILBOX_PATH}">Reload</a>
<a href="${jsonHref}">JSON</a>
</header>
<main>
${
  input.emails.length === 0
    ? html`<p>No emails yet. Anything the API sends (sign-up verification, <code>POST /api/v1/auth/magic/request</code>, invitations) appears here a moment after the email queue delivers it.</p>`
    : html`<table class="list">
<thead><tr><th>Sent</th><th>To</th><th>Subject</th><th>Template</th></tr></thead>
<tbody>${rows}</tbody>
</table>
${input.emails.length >= input.limit ? html`<p class="muted">Showing the newest ${input.limit}; <code>?limit=</code> shows up to 100.</p>` : ""}`
}
</main>`;
  return page({ title: `Dev mailbox — ${input.appName}`, nonce: input.nonce, body });
}

/**
 * The email's HTML as the iframe's document, with `<base target="_blank">` so that every link
 * opens in a new tab (the sandbox allows popups) instead of inside the frame.
 */
export function frameDocument(emailHtml: string): string {
  const base = '<base target="_blank">';
  const head = /<head(\s[^>]*)?>/i.exec(emailHtml);
  if (!head) return `${base}${emailHtml}`;
  const at = head.index + head[0].length;
  return `${emailHtml.slice(0, at)}${base}${emailHtml.slice(at)}`;
}

/** http(s) URLs in plain text, without the punctuation that usually ends a sentence after one. */
const URL_IN_TEXT = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

/** The text with each http(s) URL as a link; everything else escaped. */
export function linkify(text: string): SafeHtml {
  const parts: SafeHtml[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_IN_TEXT)) {
    parts.push(html`${text.slice(last, match.index)}`);
    parts.push(html`<a href="${match[0]}" target="_blank" rel="noopener noreferrer">${match[0]}</a>`);
    last = match.index + match[0].length;
  }
  parts.push(html`${text.slice(last)}`);
  return html`${parts}`;
}

export function emailPage(input: {
  appName: string;
  email: MailboxEmail;
  nonce: string;
  now: number;
}): string {
  const { email } = input;
  const body = html`<header>
<a href="${MAILBOX_PATH}">← All emails</a>
<h1>${email.subject || "(no subject)"}</h1>
</header>
<main>
<dl>
<dt>From</dt><dd>${email.from}</dd>
<dt>To</dt><dd>${email.to}</dd>
<dt>Sent</dt><dd><time datetime="${email.sent_at}">${when(email.sent_at, input.now)}</time></dd>
<dt>Template</dt><dd><code>${email.template}</code></dd>
<dt>Provider</dt><dd>${email.provider}</dd>
<dt>Email id</dt><dd><code>${email.email_id}</code></dd>
</dl>
<h2>HTML</h2>
<iframe title="The HTML part of the email" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc="${frameDocument(email.html)}"></iframe>
<h2>Text</h2>
<pre>${linkify(email.text)}</pre>
</main>`;
  return page({ title: `${email.subject} — Dev mailbox`, nonce: input.nonce, body });
}
