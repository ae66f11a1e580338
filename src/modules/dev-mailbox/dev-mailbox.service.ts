/**
 * The dev mailbox: a copy of every email the EMAIL_QUEUE consumer delivered, kept for a day,
 * for GET /dev/mailbox (development only; see DEV_MAILBOX_ENABLED in src/env.ts).
 *
 * Storage is the FILES R2 bucket, one JSON object per email under `dev-mailbox/`, keyed by an
 * inverted delivery time so that R2's lexicographic listing is newest first. Why R2:
 * - its listing is strongly consistent, sorted, and carries each object's custom metadata, so the
 *   list page is one call; KV lists are eventually consistent and its TTLs run on the runtime's
 *   clock, which a test cannot move, whereas here expiry is computed from the key against a `now`
 *   the caller passes (the tests inject it; nothing sleeps);
 * - expired entries are all the keys after one point of the listing: one `list({ startAfter })`
 *   finds every one of them, deleted lazily whenever the mailbox is read or written;
 * - no D1 migration: a table would exist in every deployed database for a feature that is never
 *   on there.
 */
import { z } from "zod";
import type { DeliveredEmail, DeliveredEmailObserver } from "../../email/deliver-email.job";
import { type Bindings, getConfig } from "../../env";
import { type Logger, serializeError } from "../../lib/logger";

export const MAILBOX_PREFIX = "dev-mailbox/";
/** Emails are kept for a day. */
export const MAILBOX_RETENTION_MS = 24 * 60 * 60 * 1000;
/** The largest millisecond time the 13-digit inverted key can hold (year 2286). */
const MAX_TIME_MS = 9_999_999_999_999;
const TIME_DIGITS = 13;
/** R2 refuses custom metadata over 2 KiB; the full subject is in the object itself. */
const METADATA_SUBJECT_MAX = 400;
/** What an id looks like: the key without its prefix, `<inverted time>-<email_id>`. */
const ID_PATTERN = /^(\d{13})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
/** R2's largest page (and the most keys one delete takes). */
const R2_PAGE = 1_000;

const storedEmailSchema = z.object({
  id: z.string(),
  email_id: z.string(),
  template: z.string(),
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  sent_at: z.string(),
  provider: z.string(),
  text: z.string(),
  html: z.string(),
});

export type MailboxEmail = z.infer<typeof storedEmailSchema>;
export type MailboxSummary = Pick<
  MailboxEmail,
  "id" | "email_id" | "template" | "to" | "subject" | "sent_at"
>;

type MailboxDeps = { env: Pick<Bindings, "FILES">; logger: Logger };

function invertedTime(ms: number): string {
  return String(MAX_TIME_MS - ms).padStart(TIME_DIGITS, "0");
}

/** The delivery time an id encodes, or null when `id` is not one of ours. */
function sentAtOf(id: string): number | null {
  const match = ID_PATTERN.exec(id);
  return match ? MAX_TIME_MS - Number(match[1]) : null;
}

const isFresh = (sentAt: number, now: number) => sentAt >= now - MAILBOX_RETENTION_MS;

/**
 * Keeps a copy of a delivered email. Never throws: the email has already gone out, and a
 * failure here must not make the queue retry (and send) it again; it is logged instead.
 */
export async function keepDeliveredEmail(
  deps: MailboxDeps,
  email: DeliveredEmail,
  now: number = Date.now(),
): Promise<void> {
  try {
    const id = `${invertedTime(now)}-${email.email_id}`;
    const stored: MailboxEmail = { id, ...email, sent_at: new Date(now).toISOString() };
    await deps.env.FILES.put(`${MAILBOX_PREFIX}${id}`, JSON.stringify(stored), {
      httpMetadata: { contentType: "application/json" },
      customMetadata: {
        email_id: email.email_id,
        template: email.template,
        to: email.to,
        subject: email.subject.slice(0, METADATA_SUBJECT_MAX),
      },
    });
    await pruneExpired(deps, now);
  } catch (error) {
    deps.logger.warn("dev mailbox: could not keep a copy of the email", { error: serializeError(error) });
  }
}

/**
 * The observer the wiring installs on email delivery: keeps a copy where the mailbox is on
 * (development and tests), does nothing elsewhere.
 */
export const keepInDevMailbox: DeliveredEmailObserver = async (deps, email) => {
  if (getConfig(deps.env).DEV_MAILBOX_ENABLED) await keepDeliveredEmail(deps, email);
};

/** Deletes every email older than the retention; returns how many. */
export async function pruneExpired(deps: MailboxDeps, now: number = Date.now()): Promise<number> {
  // Keys of older emails have a larger inverted time, so they all sort after this one; `~` sorts
  // after every character of `-<email_id>`, so emails sent exactly at the cutoff are kept.
  const startAfter = `${MAILBOX_PREFIX}${invertedTime(now - MAILBOX_RETENTION_MS)}~`;
  let removed = 0;
  for (;;) {
    const page = await deps.env.FILES.list({ prefix: MAILBOX_PREFIX, startAfter, limit: R2_PAGE });
    if (page.objects.length === 0) return removed;
    await deps.env.FILES.delete(page.objects.map((object) => object.key));
    removed += page.objects.length;
    if (!page.truncated) return removed;
  }
}

/** The newest emails (for `to` when given, in any letter case), newest first, at most `limit`. */
export async function listMailbox(
  deps: MailboxDeps,
  query: { limit: number; to?: string },
  now: number = Date.now(),
): Promise<MailboxSummary[]> {
  await pruneExpired(deps, now);
  const to = query.to?.toLowerCase();
  const found: MailboxSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.env.FILES.list({
      prefix: MAILBOX_PREFIX,
      limit: R2_PAGE,
      include: ["customMetadata"],
      ...(cursor ? { cursor } : {}),
    });
    for (const object of page.objects) {
      const id = object.key.slice(MAILBOX_PREFIX.length);
      const sentAt = sentAtOf(id);
      const meta = object.customMetadata ?? {};
      if (sentAt === null) continue;
      // Keys sort newest first, so past the first stale one (left by a prune racing this read) all are.
      if (!isFresh(sentAt, now)) return found;
      if (to !== undefined && meta.to?.toLowerCase() !== to) continue;
      found.push({
        id,
        email_id: meta.email_id ?? "",
        template: meta.template ?? "",
        to: meta.to ?? "",
        subject: meta.subject ?? "",
        sent_at: new Date(sentAt).toISOString(),
      });
      if (found.length >= query.limit) return found;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return found;
}

/** One email with its bodies, or null when `id` is malformed, unknown or expired. */
export async function getMailboxEmail(
  deps: MailboxDeps,
  id: string,
  now: number = Date.now(),
): Promise<MailboxEmail | null> {
  const sentAt = sentAtOf(id);
  if (sentAt === null || !isFresh(sentAt, now)) return null;
  const object = await deps.env.FILES.get(`${MAILBOX_PREFIX}${id}`);
  if (!object) return null;
  const parsed = storedEmailSchema.safeParse(await object.json().catch(() => null));
  if (!parsed.success) {
    deps.logger.warn("dev mailbox: an entry is not a stored email; ignoring it", { id });
    return null;
  }
  return parsed.data;
}

/** The newest emails with their bodies (the JSON listing). */
export async function listMailboxWithBodies(
  deps: MailboxDeps,
  query: { limit: number; to?: string },
  now: number = Date.now(),
): Promise<MailboxEmail[]> {
  const summaries = await listMailbox(deps, query, now);
  const emails = await Promise.all(summaries.map((summary) => getMailboxEmail(deps, summary.id, now)));
  // An entry pruned or replaced between the list and the read is simply left out.
  return emails.filter((email): email is MailboxEmail => email !== null);
}
