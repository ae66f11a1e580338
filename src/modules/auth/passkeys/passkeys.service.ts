/**
 * A person's passkeys as they manage them (GET/PATCH/DELETE /users/me/passkeys), and
 * what other modules ask of them: the claim rule's clean-up, the count the MFA status
 * shows. Registration and sign-in, the two ceremonies, live beside this file.
 */
import { and, asc, eq } from "drizzle-orm";
import {
  type PasskeyCredential,
  passkeyChallenges,
  passkeyCredentials,
  passkeyUserHandles,
} from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";
import type { SortTerm } from "../../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../../lib/pagination";
import { currentUser } from "../../../lib/principal";
import { problems } from "../../../lib/problem";
import { AFTER_CHANGE, auditStatement } from "../../audit/audit.service";
import type { AccountClaimStep } from "../accounts";
import { findUserById } from "../accounts";
import { assertRecentAuthentication, type ReauthenticationProof } from "../reauthentication";
import { anotherWayToSignIn, lastSignInMethod } from "../sign-in-methods";
import { emailPasskeyChange } from "./passkey-alerts";
import type { PasskeyDto } from "./passkeys.schemas";

/** A passkey as its owner sees it. */
export function toPasskeyDto(passkey: PasskeyCredential): PasskeyDto {
  return {
    id: passkey.id,
    name: passkey.name,
    created_at: passkey.createdAt.toISOString(),
    last_used_at: passkey.lastUsedAt?.toISOString() ?? null,
    transports: passkey.transports,
    backed_up: passkey.backedUp,
  };
}

/** Every passkey of `userId`, oldest first: the exclude list of a registration, the allow list of an email-first sign-in. */
export function passkeysOf(ctx: ServiceContext, userId: string): Promise<PasskeyCredential[]> {
  return ctx.db
    .select()
    .from(passkeyCredentials)
    .where(eq(passkeyCredentials.userId, userId))
    .orderBy(asc(passkeyCredentials.createdAt), asc(passkeyCredentials.id))
    .all();
}

export async function listMyPasskeys(
  ctx: ServiceContext,
  query: { limit: number; cursor?: string; sort: SortTerm[] },
): Promise<Page<PasskeyCredential>> {
  const { userId } = currentUser(ctx);
  const page = keysetPage<PasskeyCredential>({
    sort: query.sort,
    columns: {
      created_at: { column: passkeyCredentials.createdAt, read: (row) => row.createdAt.getTime() },
      name: { column: passkeyCredentials.name, read: (row) => row.name },
    },
    tiebreaker: { column: passkeyCredentials.id, read: (row) => row.id },
    limit: query.limit,
    cursor: query.cursor,
  });
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(passkeyCredentials).$dynamic(),
    countFrom: passkeyCredentials,
    where: eq(passkeyCredentials.userId, userId),
  });
}

const mine = (userId: string, passkeyId: string) =>
  and(eq(passkeyCredentials.id, passkeyId), eq(passkeyCredentials.userId, userId));

/** One of the caller's passkeys; another account's is a 404, like one that does not exist. */
export async function getMyPasskey(ctx: ServiceContext, passkeyId: string): Promise<PasskeyCredential> {
  const { userId } = currentUser(ctx);
  const passkey = await ctx.db.select().from(passkeyCredentials).where(mine(userId, passkeyId)).get();
  if (!passkey) throw problems.notFound("passkey");
  return passkey;
}

export async function renameMyPasskey(
  ctx: ServiceContext,
  input: { passkeyId: string; name: string },
): Promise<PasskeyCredential> {
  const { userId } = currentUser(ctx);
  const before = await getMyPasskey(ctx, input.passkeyId);
  const [[renamed]] = await ctx.db.batch([
    ctx.db
      .update(passkeyCredentials)
      .set({ name: input.name })
      .where(mine(userId, input.passkeyId))
      .returning(),
    auditStatement(
      ctx,
      {
        action: "auth.passkey_renamed",
        target: { type: "user", id: userId },
        before: { passkey_id: before.id, name: before.name },
        after: { passkey_id: before.id, name: input.name },
      },
      { when: AFTER_CHANGE },
    ),
  ]);
  // Removed between the read and the write.
  if (!renamed) throw problems.notFound("passkey");
  return renamed;
}

/**
 * DELETE /users/me/passkeys/{id}. Another account's passkey is a 404; the last way
 * into the account is a 409 (checked first, so nobody re-authenticates for nothing,
 * and again inside the DELETE, so two removals racing cannot take the last two). Every
 * removal needs a recent authentication: a stolen access token must not strip an
 * account of the ways its owner signs in.
 */
export async function removeMyPasskey(
  ctx: ServiceContext,
  input: { passkeyId: string; proof: ReauthenticationProof },
  now = Date.now(),
): Promise<void> {
  const { userId } = currentUser(ctx);
  const passkey = await getMyPasskey(ctx, input.passkeyId);
  const stillSignsIn = anotherWayToSignIn(userId, { passkeyId: passkey.id });
  const [check] = await ctx.db
    .select({ ok: stillSignsIn })
    .from(passkeyCredentials)
    .where(mine(userId, passkey.id))
    .all();
  if (!check?.ok) throw lastSignInMethod();
  await assertRecentAuthentication(ctx, input.proof, now);

  const [deleted] = await ctx.db.batch([
    ctx.db
      .delete(passkeyCredentials)
      .where(and(mine(userId, passkey.id), stillSignsIn))
      .returning({ id: passkeyCredentials.id }),
    auditStatement(
      ctx,
      {
        action: "auth.passkey_removed",
        target: { type: "user", id: userId },
        before: { passkey_id: passkey.id, name: passkey.name, backed_up: passkey.backedUp },
        after: null,
      },
      // Written only when the DELETE above removed the row.
      { when: AFTER_CHANGE },
    ),
  ]);
  if (deleted.length === 0) throw lastSignInMethod();

  const user = await findUserById(ctx, userId);
  if (user)
    await emailPasskeyChange(ctx, { user, event: "passkey_removed", passkeyName: passkey.name, at: now });
}

/**
 * Claim step (wiring: accountClaimSteps): passkeys registered on a never-verified
 * account before its address was proven belong to whoever registered it, maybe not to
 * the owner of the address, so they go with the password and the sessions; so do the
 * user handle they were created under and any ceremony in flight.
 */
export const removePasskeysOf: AccountClaimStep = async (ctx, userId) => {
  const [removed] = await ctx.db.batch([
    ctx.db
      .delete(passkeyCredentials)
      .where(eq(passkeyCredentials.userId, userId))
      .returning({ id: passkeyCredentials.id }),
    ctx.db.delete(passkeyUserHandles).where(eq(passkeyUserHandles.userId, userId)),
    ctx.db.delete(passkeyChallenges).where(eq(passkeyChallenges.userId, userId)),
  ]);
  if (removed.length > 0) {
    ctx.logger.warn("passkeys registered before the account's address was proven were removed", {
      user_id: userId,
      passkeys: removed.length,
    });
  }
};
