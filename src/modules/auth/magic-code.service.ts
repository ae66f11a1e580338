/**
 * Passwordless sign-in. A request emails an 8-digit code and a link; both are
 * stored hashed, live 15 minutes, work once, and a newer request replaces the
 * older one. A code survives at most MAGIC_CODE_MAX_ATTEMPTS checks: each check
 * reserves an attempt with a conditional UPDATE *before* comparing, so even a
 * burst of parallel guesses gets no more than that many comparisons. Using a
 * code or link proves the mailbox: it signs in (claiming a never-verified account,
 * see accounts.ts), or signs up a new account that is verified from the start.
 */
import { and, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { magicCodes } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import { ConfigError } from "../../env";
import type { ServiceContext } from "../../lib/context";
import { randomDigits, randomToken, sha256Hex, timingSafeEqual } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import { ProblemError } from "../../lib/problem";
import { createAccount, findUserByEmail } from "./accounts";
import { invalidOrExpired } from "./email-links";
import type { MagicVerifyInput } from "./magic-code.schemas";
import { MAGIC_CODE_PROOF, openSession, type SignInOutcome } from "./sign-in";

export const MAGIC_CODE_TTL_MS = 15 * 60 * 1000;
export const MAGIC_CODE_MAX_ATTEMPTS = 5;
export const MAGIC_CODE_DIGITS = 8;

const TOKEN_PREFIX = "ml_";

/** Salted by the row id: the same code in two rows never has the same hash. */
const hashCode = (id: string, code: string) => sha256Hex(`${id}:${code}`);

/**
 * The link's target page. Required outside tests: without it the email would point
 * nowhere useful, so the request fails loudly (500 configuration_error, the log
 * names the variable) instead of mailing a broken link.
 */
export function magicLinkUrl(ctx: ServiceContext, token: string): string {
  const base =
    ctx.config.MAGIC_LINK_VERIFY_URL ??
    (ctx.config.ENVIRONMENT === "test"
      ? `${ctx.config.APP_URL.replace(/\/+$/, "")}/magic-verify`
      : undefined);
  if (!base) {
    throw new ConfigError([
      "MAGIC_LINK_VERIFY_URL: required outside tests to build the magic sign-in link; set it to the client page that posts the token to /api/v1/auth/magic/verify, e.g. https://app.example.com/magic-verify",
    ]);
  }
  const url = new URL(base);
  url.searchParams.set("token", token);
  return url.toString();
}

export type MagicRequestResult = { expiresInSeconds: number; debugCode?: string };

/** POST /auth/magic/request: 202 whether or not the address has an account (the first use signs up). */
export async function requestMagicCode(
  ctx: ServiceContext,
  email: string,
  now = Date.now(),
): Promise<MagicRequestResult> {
  const id = uuidv7(now);
  const code = randomDigits(MAGIC_CODE_DIGITS);
  const token = `${TOKEN_PREFIX}${randomToken(32)}`;
  const magicUrl = magicLinkUrl(ctx, token);
  const at = new Date(now);
  await ctx.db.batch([
    // One live code per address: a new request retires the previous ones, so guesses do not add up across codes.
    ctx.db
      .update(magicCodes)
      .set({ usedAt: at })
      .where(and(eq(magicCodes.email, email), isNull(magicCodes.usedAt))),
    ctx.db.insert(magicCodes).values({
      id,
      email,
      codeHash: await hashCode(id, code),
      tokenHash: await sha256Hex(token),
      expiresAt: new Date(now + MAGIC_CODE_TTL_MS),
      createdAt: at,
    }),
  ]);
  await sendEmail(ctx, {
    template: "magic_code",
    to: email,
    data: { code, magic_url: magicUrl, expires_in_minutes: MAGIC_CODE_TTL_MS / 60_000 },
  });
  const echo = ctx.config.MAGIC_LINK_DEBUG_ECHO_TOKEN && !ctx.config.isProduction;
  return { expiresInSeconds: MAGIC_CODE_TTL_MS / 1000, ...(echo ? { debugCode: code } : {}) };
}

const live = (now: number) =>
  and(
    isNull(magicCodes.usedAt),
    gt(magicCodes.expiresAt, new Date(now)),
    lt(magicCodes.attempts, MAGIC_CODE_MAX_ATTEMPTS),
  );

/** Spends the link token; the address it was sent to, or null. */
async function spendLinkToken(ctx: ServiceContext, token: string, now: number): Promise<string | null> {
  const [spent] = await ctx.db
    .update(magicCodes)
    .set({ usedAt: new Date(now) })
    .where(and(eq(magicCodes.tokenHash, await sha256Hex(token)), live(now)))
    .returning({ email: magicCodes.email });
  return spent?.email ?? null;
}

/** Checks a typed code against the address's live code, charging one attempt first. */
async function spendCode(ctx: ServiceContext, email: string, code: string, now: number): Promise<boolean> {
  const current = await ctx.db
    .select({ id: magicCodes.id })
    .from(magicCodes)
    .where(and(eq(magicCodes.email, email), live(now)))
    .orderBy(desc(magicCodes.createdAt))
    .get();
  if (!current) return false;
  const [reserved] = await ctx.db
    .update(magicCodes)
    .set({ attempts: sql`${magicCodes.attempts} + 1` })
    .where(and(eq(magicCodes.id, current.id), live(now)))
    .returning({ codeHash: magicCodes.codeHash });
  if (!reserved || !timingSafeEqual(await hashCode(current.id, code), reserved.codeHash)) return false;
  const [spent] = await ctx.db
    .update(magicCodes)
    .set({ usedAt: new Date(now) })
    .where(and(eq(magicCodes.id, current.id), isNull(magicCodes.usedAt)))
    .returning({ id: magicCodes.id });
  return spent !== undefined;
}

/** POST /auth/magic/verify: a token pair, for an existing account or a new one. */
export async function verifyMagicCode(
  ctx: ServiceContext,
  input: MagicVerifyInput,
  now = Date.now(),
): Promise<SignInOutcome> {
  let email: string | null = null;
  if (input.token !== undefined) email = await spendLinkToken(ctx, input.token, now);
  else if (input.email !== undefined && input.code !== undefined) {
    if (await spendCode(ctx, input.email, input.code, now)) email = input.email;
  }
  if (!email) throw invalidOrExpired("sign-in code or link");
  return signInByEmail(ctx, email, now);
}

/**
 * Opens a session for the owner of a mailbox that has just proved itself: an
 * existing account is signed into (and claimed if it was never verified); an
 * unknown address gets a new, verified account without a password.
 */
async function signInByEmail(ctx: ServiceContext, email: string, now: number): Promise<SignInOutcome> {
  const existing = await findUserByEmail(ctx, email);
  if (existing) return openSession(ctx, existing, MAGIC_CODE_PROOF, { now });
  let user: Awaited<ReturnType<typeof createAccount>>;
  try {
    user = await createAccount(ctx, { email, passwordHash: null, emailVerified: true }, now);
  } catch (error) {
    // The address signed up some other way a moment ago: it is an existing account now.
    if (!(error instanceof ProblemError && error.code === "email_taken")) throw error;
    const raced = await findUserByEmail(ctx, email);
    if (!raced) throw error;
    return openSession(ctx, raced, MAGIC_CODE_PROOF, { now });
  }
  return openSession(ctx, user, MAGIC_CODE_PROOF, { now, newAccount: true });
}
