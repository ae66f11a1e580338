/**
 * New-device alerts. Every sign-in records the (device family, country) it came
 * from (a known one is refreshed at most hourly); a sign-in to an account with
 * history, from a device family or a country that history does not contain,
 * marks its session as new and emails the `new_device` alert (device, place, time, and a link to sign
 * that session out).
 *
 * The first device of an account is recorded without an alert: at registration
 * (and magic-code sign-up), and for accounts that predate this feature, on their
 * first sign-in. An unknown country (no Cloudflare geo data) is never "new".
 */
import { and, eq, inArray, or, sql } from "drizzle-orm";
import { z } from "zod";
import { newDeviceSessions, signInDevices, type User } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { describeDevice } from "../../lib/user-agent";
import type { RegistrationHook } from "./accounts";
import { emailName } from "./email-links";
import { SECURITY_SETTINGS_PATH } from "./security-events";
import { defineSignInHook } from "./sign-in";

type Origin = { device: string; country: string };

/**
 * A known origin's `last_seen_at` is written again at most this often, so the usual
 * sign-in (same device, same country) reads one row and writes nothing.
 */
const ORIGIN_REFRESH_MS = 60 * 60 * 1000;

function originOf(ctx: ServiceContext): Origin {
  const country = ctx.client.country?.trim().toUpperCase() ?? "";
  return { device: describeDevice(ctx.client.userAgent), country: /^[A-Z]{2}$/.test(country) ? country : "" };
}

/** The statement that records (or refreshes) an origin of the account. */
function rememberOrigin(ctx: ServiceContext, userId: string, origin: Origin, now: number) {
  const at = new Date(now);
  return ctx.db
    .insert(signInDevices)
    .values({ userId, device: origin.device, country: origin.country, firstSeenAt: at, lastSeenAt: at })
    .onConflictDoUpdate({
      target: [signInDevices.userId, signInDevices.device, signInDevices.country],
      set: { lastSeenAt: at },
    });
}

/** "Lisbon, Portugal" from Cloudflare's city and country code; undefined when neither is known. */
export function describePlace(city: string | undefined, country: string): string | undefined {
  let countryName = country;
  if (country) {
    try {
      countryName = new Intl.DisplayNames(["en"], { type: "region" }).of(country) ?? country;
    } catch {
      // An unexpected code keeps its two letters.
    }
  }
  const place = [city?.replace(/\p{Cc}+/gu, " ").trim(), countryName].filter(Boolean).join(", ");
  return place ? place.slice(0, 200) : undefined;
}

const ipAddress = z.union([z.ipv4(), z.ipv6()]);

/** When the account last signed in from this request's very origin (no row: never). */
function lastSeenFromHere(ctx: ServiceContext, userId: string) {
  const origin = originOf(ctx);
  return ctx.db
    .select({ lastSeenAt: signInDevices.lastSeenAt })
    .from(signInDevices)
    .where(
      and(
        eq(signInDevices.userId, userId),
        eq(signInDevices.device, origin.device),
        eq(signInDevices.country, origin.country),
      ),
    )
    .limit(1);
}

type LastSeenRows = Awaited<ReturnType<typeof lastSeenFromHere>>;

/**
 * Decides whether the sign-in that opened `sessionId` is new for the account,
 * records its origin, and when new marks the session and queues the alert.
 * Returns whether it was new. `lastSeen` is `lastSeenFromHere`'s rows when the
 * caller read them already (in the session's batch).
 */
export async function checkSignInOrigin(
  ctx: ServiceContext,
  input: { user: Pick<User, "id" | "email" | "firstName">; sessionId: string; at: number },
  lastSeen?: LastSeenRows,
): Promise<boolean> {
  const origin = originOf(ctx);
  const { user } = input;
  // The usual case: this very origin was seen within the hour. Known device and country: not new.
  const [known] = lastSeen ?? (await lastSeenFromHere(ctx, user.id));
  if (known && input.at - known.lastSeenAt.getTime() < ORIGIN_REFRESH_MS) return false;
  // Otherwise one batch: what the history holds, read before the same batch records this origin
  // (one transaction, so of two concurrent first sign-ins from a new device only one is new).
  const [seen, anyOrigin] = await ctx.db.batch([
    ctx.db
      .select({ device: signInDevices.device, country: signInDevices.country })
      .from(signInDevices)
      .where(
        and(
          eq(signInDevices.userId, user.id),
          or(eq(signInDevices.device, origin.device), eq(signInDevices.country, origin.country)),
        ),
      ),
    ctx.db
      .select({ one: sql<number>`1` })
      .from(signInDevices)
      .where(eq(signInDevices.userId, user.id))
      .limit(1),
    rememberOrigin(ctx, user.id, origin, input.at),
  ]);
  const hasHistory = anyOrigin.length > 0;
  const newDevice = !seen.some((row) => row.device === origin.device);
  const newCountry = origin.country !== "" && !seen.some((row) => row.country === origin.country);
  if (!hasHistory || !(newDevice || newCountry)) return false;

  await ctx.db
    .insert(newDeviceSessions)
    .values({ sessionId: input.sessionId, userId: user.id, ...origin, createdAt: new Date(input.at) })
    .onConflictDoNothing();
  const place = describePlace(ctx.client.city, origin.country);
  const ip = ipAddress.safeParse(ctx.client.ip).data;
  const name = emailName(user);
  const revokeUrl = new URL(`${ctx.config.APP_URL.replace(/\/+$/, "")}${SECURITY_SETTINGS_PATH}`);
  revokeUrl.searchParams.set("revoke_session", input.sessionId);
  await sendEmail(ctx, {
    template: "new_device",
    to: user.email,
    data: {
      ...(name ? { name } : {}),
      device: origin.device,
      ...(place ? { location: place } : {}),
      ...(ip ? { ip } : {}),
      signed_in_at: new Date(input.at).toISOString(),
      revoke_url: revokeUrl.toString(),
    },
  });
  return true;
}

/**
 * Sign-in hook: the origin's last sighting is read in the session's own batch, so the usual
 * sign-in (a known origin, seen within the hour) costs the check no round trip. Never fails a
 * sign-in; a lost alert is logged.
 */
export const newDeviceSignInHook = defineSignInHook({
  read: (ctx, signIn) => lastSeenFromHere(ctx, signIn.user.id),
  run: async (ctx, signIn, lastSeen) => {
    try {
      await checkSignInOrigin(
        ctx,
        { user: signIn.user, sessionId: signIn.sessionId, at: signIn.at },
        lastSeen,
      );
    } catch (error) {
      ctx.logger.error("new-device check failed", { user_id: signIn.user.id, error: serializeError(error) });
    }
  },
});

/** Registration hook: the device an account signs up from is its first known device (no alert). */
export const firstDeviceRegistrationHook: RegistrationHook = async (ctx, user) => {
  try {
    await rememberOrigin(ctx, user.id, originOf(ctx), Date.now());
  } catch (error) {
    ctx.logger.error("could not record the sign-up device", {
      user_id: user.id,
      error: serializeError(error),
    });
  }
};

/** Which of `sessionIds` (a page of one user's sessions, at most 100: D1's bound-parameter cap) were opened from a new device or country. */
export async function newDeviceSessionIds(ctx: ServiceContext, sessionIds: string[]): Promise<Set<string>> {
  if (sessionIds.length === 0) return new Set();
  const rows = await ctx.db
    .select({ id: newDeviceSessions.sessionId })
    .from(newDeviceSessions)
    .where(inArray(newDeviceSessions.sessionId, sessionIds))
    .all();
  return new Set(rows.map((row) => row.id));
}
