/**
 * The shared layout: product name linking to APP_URL on top, a white card with the
 * heading and blocks, and a footer saying who sent the email and why. Styles are
 * inline attributes and layout is tables, because many mail clients (Gmail apps,
 * Outlook) drop <style> sheets and ignore flexbox; the HTML part is a complete
 * document so clients that render it standalone behave too.
 */
import { html, type SafeHtml } from "./html";
import type { Block, EmailContent, Inline, Site } from "./types";

const FONT = "-apple-system, BlinkMacSystemFont, Segoe UI, Roboto, Helvetica, Arial, sans-serif";
const MONO = "SFMono-Regular, Menlo, Consolas, Liberation Mono, monospace";

const style = {
  body: "margin:0;padding:0;background-color:#f4f4f5;",
  preheader: "display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all;",
  outer: "background-color:#f4f4f5;",
  outerCell: "padding:32px 16px;",
  column: "max-width:560px;width:100%;",
  brand: `padding:0 0 16px 0;font-family:${FONT};font-size:18px;font-weight:700;`,
  brandLink: "color:#18181b;text-decoration:none;",
  card: "background-color:#ffffff;border:1px solid #e4e4e7;border-radius:8px;padding:32px;",
  heading: `margin:0 0 24px 0;font-family:${FONT};font-size:22px;line-height:30px;font-weight:700;color:#18181b;`,
  paragraph: `margin:0 0 16px 0;font-family:${FONT};font-size:16px;line-height:24px;color:#27272a;`,
  note: `margin:0 0 12px 0;font-family:${FONT};font-size:13px;line-height:20px;color:#71717a;`,
  buttonWrap: "margin:8px 0 24px 0;",
  buttonCell: "border-radius:6px;background-color:#2563eb;",
  button: `display:inline-block;padding:12px 24px;font-family:${FONT};font-size:16px;font-weight:600;color:#ffffff;text-decoration:none;border-radius:6px;`,
  fallback: `margin:0 0 16px 0;font-family:${FONT};font-size:13px;line-height:20px;color:#71717a;word-break:break-all;`,
  fallbackLink: "color:#2563eb;",
  code: `margin:8px 0 24px 0;padding:16px;font-family:${MONO};font-size:28px;letter-spacing:6px;font-weight:700;text-align:center;color:#18181b;background-color:#f4f4f5;border-radius:6px;`,
  details: "margin:0 0 24px 0;border-collapse:collapse;",
  detailLabel: `padding:6px 16px 6px 0;font-family:${FONT};font-size:14px;color:#71717a;vertical-align:top;white-space:nowrap;`,
  detailValue: `padding:6px 0;font-family:${FONT};font-size:14px;color:#18181b;vertical-align:top;`,
  footer: `padding:16px 8px 0 8px;font-family:${FONT};font-size:12px;line-height:18px;color:#71717a;text-align:center;`,
  footerLink: "color:#71717a;",
} as const;

function inlineHtml(parts: readonly Inline[]): SafeHtml {
  return html`${parts.map((part) => {
    if (typeof part === "string") return part;
    if ("strong" in part) return html`<strong>${part.strong}</strong>`;
    return html`<a href="${part.url}" target="_blank" style="${style.fallbackLink}">${part.link}</a>`;
  })}`;
}

function inlineText(parts: readonly Inline[]): string {
  return parts
    .map((part) => {
      if (typeof part === "string") return part;
      if ("strong" in part) return part.strong;
      // On a line of its own: no punctuation of the sentence can stick to the URL.
      return `${part.link}:\n${part.url}\n`;
    })
    .join("");
}

function blockHtml(block: Block): SafeHtml {
  switch (block.kind) {
    case "paragraph":
      return html`<p style="${style.paragraph}">${inlineHtml(block.text)}</p>`;
    case "note":
      return html`<p style="${style.note}">${inlineHtml(block.text)}</p>`;
    case "button":
      // A table cell carries the colour so Outlook (which ignores padding on <a>) still shows a button;
      // the URL is repeated as text for clients that block links in buttons.
      return html`<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="${style.buttonWrap}"><tr><td style="${style.buttonCell}"><a href="${block.url}" target="_blank" style="${style.button}">${block.label}</a></td></tr></table><p style="${style.fallback}">Or paste this link into your browser: <a href="${block.url}" target="_blank" style="${style.fallbackLink}">${block.url}</a></p>`;
    case "code":
      return html`<div style="${style.code}">${block.code}</div>`;
    case "details":
      return html`<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="${style.details}">${block.rows.map(
        ([label, value]) =>
          html`<tr><td style="${style.detailLabel}">${label}</td><td style="${style.detailValue}">${value}</td></tr>`,
      )}</table>`;
  }
}

function blockText(block: Block): string {
  switch (block.kind) {
    case "paragraph":
    case "note":
      return inlineText(block.text);
    case "button":
      return `${block.label}:\n${block.url}`;
    case "code":
      return `    ${block.code}`;
    case "details":
      return block.rows.map(([label, value]) => `${label}: ${value}`).join("\n");
  }
}

export function renderHtml(content: EmailContent, site: Site): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="supported-color-schemes" content="light">
<title>${content.subject}</title>
</head>
<body style="${style.body}">
<div style="${style.preheader}">${content.preheader}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="${style.outer}">
<tr><td align="center" style="${style.outerCell}">
<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="${style.column}">
<tr><td style="${style.brand}"><a href="${site.appUrl}" target="_blank" style="${style.brandLink}">${site.appName}</a></td></tr>
<tr><td style="${style.card}">
<h1 style="${style.heading}">${content.heading}</h1>
${content.blocks.map(blockHtml)}
</td></tr>
<tr><td style="${style.footer}">${content.reason}<br>Sent by <a href="${site.appUrl}" target="_blank" style="${style.footerLink}">${site.appName}</a> · ${site.appUrl}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`.value;
}

export function renderText(content: EmailContent, site: Site): string {
  return [
    site.appName,
    "",
    content.heading,
    "",
    content.blocks.map(blockText).join("\n\n"),
    "",
    "--",
    content.reason,
    `${site.appName} · ${site.appUrl}`,
    "",
  ].join("\n");
}
