/**
 * What a template produces. A template describes its email once, as a few blocks,
 * and the layout renders those blocks to both HTML and plain text: the two parts of
 * one message can never say different things.
 */
import type { z } from "zod";

/** The product a message comes from: APP_NAME and APP_URL. */
export type Site = { appName: string; appUrl: string };

/**
 * Inline text: plain, emphasised (rendered <strong> in HTML, as is in text), or a
 * secondary link (an <a> in HTML, "label:" and the URL on its own line in text) beside
 * the one button; put it last in its block, so no punctuation follows the URL.
 */
export type Inline = string | { strong: string } | { link: string; url: string };

export type Block =
  | { kind: "paragraph"; text: readonly Inline[] }
  /** The one thing to click; the text part prints the URL under its label. */
  | { kind: "button"; label: string; url: string }
  /** A code the reader types in (magic sign-in). */
  | { kind: "code"; code: string }
  /** Label/value facts (device, place, time...). */
  | { kind: "details"; rows: readonly (readonly [label: string, value: string])[] }
  /** Small print: expiry, "ignore this if it wasn't you". */
  | { kind: "note"; text: readonly Inline[] };

export type EmailContent = {
  subject: string;
  /** Preview text most inboxes show next to the subject. */
  preheader: string;
  heading: string;
  blocks: readonly Block[];
  /** Why the recipient got this email, printed in the footer. */
  reason: string;
};

export type EmailTemplate<S extends z.ZodType> = {
  /** One line on what the email is for (docs/email.md, logs). */
  description: string;
  /** Checked when the email is enqueued and again when it is delivered. */
  schema: S;
  compose(data: z.output<S>, site: Site): EmailContent;
};

/** Identity function that pins `compose`'s argument type to the schema's output. */
export function defineTemplate<S extends z.ZodType>(template: EmailTemplate<S>): EmailTemplate<S> {
  return template;
}
