/**
 * Field schemas and formatters shared by the templates. Data is checked when an
 * email is enqueued, so a template can trust it: text fields carry no control
 * characters (a newline in a name would otherwise reach a subject line), links are
 * http(s) only (no `javascript:` hrefs), and durations and times are numbers and
 * ISO instants that the template formats itself.
 */
import { z } from "zod";

/** A short piece of user-provided text shown in an email: a name, an organization, a device. */
export const displayText = (max = 120) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");

/** An absolute http(s) link the email points at (verification, reset, accept...). */
export const httpUrl = z.url({ protocol: /^https?$/ }).max(2048);

/** How long a token in the email stays valid, in minutes (formatted as "15 minutes", "24 hours"). */
export const expiresInMinutes = z
  .number()
  .int()
  .positive()
  .max(60 * 24 * 90);

export function formatDuration(minutes: number): string {
  const unit = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
  // "24 hours" reads better than "1 day" for a token's life; whole days from two days up.
  if (minutes >= 2 * 60 * 24 && minutes % (60 * 24) === 0) return unit(minutes / (60 * 24), "day");
  if (minutes % 60 === 0) return unit(minutes / 60, "hour");
  return unit(minutes, "minute");
}

const utcFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: "UTC",
  day: "numeric",
  month: "long",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

/** "7 January 2026 at 14:05 UTC": unambiguous for every reader, whatever their locale. */
export function formatUtc(iso: string): string {
  return `${utcFormat.format(new Date(iso))} UTC`;
}

/** "$19.99", "€5.00": amounts travel as decimal strings (the API's money format). */
export function formatMoney(amount: string, currency: string): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() }).format(
    Number(amount),
  );
}
