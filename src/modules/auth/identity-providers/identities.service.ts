/**
 * Linked identities: an account at a provider attached to one of ours. One (provider,
 * provider user id) belongs to one account at most: the unique index decides races, and
 * a second account trying to take it gets `identity_already_linked`.
 */
import { and, asc, eq } from "drizzle-orm";
import { constraintFailure } from "../../../db/constraint-errors";
import { type User, type UserIdentity, userIdentities } from "../../../db/schema";
import { sendEmail } from "../../../email/send-email";
import type { ServiceContext } from "../../../lib/context";
import { uuidv7 } from "../../../lib/ids";
import { serializeError } from "../../../lib/logger";
import { currentUser } from "../../../lib/principal";
import { problems } from "../../../lib/problem";
import { AFTER_CHANGE, audit, auditStatement } from "../../audit/audit.service";
import { appBaseUrl, emailName } from "../email-links";
import { assertRecentAuthentication, type ReauthenticationProof } from "../reauthentication";
import { SECURITY_SETTINGS_PATH } from "../security-events";
import { anotherWayToSignIn, lastSignInMethod } from "../sign-in-methods";
import type { ProviderProfile } from "./identity-provider";
import type { IdentityDto } from "./identity-providers.schemas";
import { SignInRefusal } from "./sign-in-refusal";

export function findIdentity(
  ctx: ServiceContext,
  provider: string,
  subject: string,
): Promise<UserIdentity | undefined> {
  return ctx.db
    .select()
    .from(userIdentities)
    .where(and(eq(userIdentities.provider, provider), eq(userIdentities.providerUserId, subject)))
    .get();
}

/** Links the provider's person to `userId`; `identity_already_linked` when another account won it. */
export async function linkIdentity(
  ctx: ServiceContext,
  input: { userId: string; provider: string; profile: ProviderProfile },
  now = Date.now(),
): Promise<UserIdentity> {
  const at = new Date(now);
  try {
    const [identity] = await ctx.db
      .insert(userIdentities)
      .values({
        id: uuidv7(now),
        userId: input.userId,
        provider: input.provider,
        providerUserId: input.profile.subject,
        email: input.profile.email,
        emailVerified: input.profile.emailVerified,
        createdAt: at,
        lastUsedAt: at,
      })
      .returning();
    if (!identity) throw new Error("linkIdentity: the insert returned no row");
    return identity;
  } catch (error) {
    if (constraintFailure(error)?.kind !== "unique") throw error;
    // A concurrent callback linked it first: fine if it linked it to the same account.
    const winner = await findIdentity(ctx, input.provider, input.profile.subject);
    if (winner?.userId === input.userId) return winner;
    throw new SignInRefusal("identity_already_linked", "linked to another account by a concurrent sign-in");
  }
}

/**
 * Tells the account a provider was linked to it (audit row and `identity_linked` email): a
 * stolen session used to add an attacker's provider would otherwise go unnoticed. Best
 * effort: the link stands whether or not the notice goes out.
 */
export async function reportIdentityLinked(
  ctx: ServiceContext,
  input: { user: User; providerName: string; identity: UserIdentity },
  now = Date.now(),
): Promise<void> {
  const { user, identity } = input;
  try {
    await audit(ctx, {
      action: "auth.identity_linked",
      target: { type: "user", id: user.id },
      after: { provider: identity.provider, provider_user_id: identity.providerUserId },
    });
    const name = emailName(user);
    await sendEmail(ctx, {
      template: "identity_linked",
      to: user.email,
      data: {
        ...(name ? { name } : {}),
        provider: input.providerName,
        ...(identity.email ? { provider_email: identity.email } : {}),
        linked_at: new Date(now).toISOString(),
        manage_url: `${appBaseUrl(ctx)}${SECURITY_SETTINGS_PATH}`,
      },
    });
  } catch (error) {
    ctx.logger.error("could not report a linked identity", {
      user_id: user.id,
      error: serializeError(error),
    });
  }
}

/** A sign-in through an identity: what the provider says now (the address may have changed there). */
export async function refreshIdentity(
  ctx: ServiceContext,
  identity: UserIdentity,
  profile: ProviderProfile,
  now = Date.now(),
): Promise<void> {
  await ctx.db
    .update(userIdentities)
    .set({ email: profile.email, emailVerified: profile.emailVerified, lastUsedAt: new Date(now) })
    .where(eq(userIdentities.id, identity.id));
}

/** An identity as the API shows it (`LinkedIdentity`). */
export function toIdentityDto(identity: UserIdentity): IdentityDto {
  return {
    id: identity.id,
    provider: identity.provider,
    provider_user_id: identity.providerUserId,
    email: identity.email,
    email_verified: identity.emailVerified,
    created_at: identity.createdAt.toISOString(),
    last_used_at: identity.lastUsedAt.toISOString(),
  };
}

/** Every identity linked to `userId`, oldest first (a handful at most: no pages). */
export function listIdentities(ctx: ServiceContext, userId: string): Promise<UserIdentity[]> {
  return ctx.db
    .select()
    .from(userIdentities)
    .where(eq(userIdentities.userId, userId))
    .orderBy(asc(userIdentities.createdAt), asc(userIdentities.id))
    .all();
}

/**
 * DELETE /users/me/identities/{id}: unlinks one of the caller's identities. Another
 * account's identity is a 404; the last way in is a 409 (checked first, so nobody
 * re-authenticates for nothing, and again inside the DELETE, so two unlinks racing
 * cannot remove both of the last two). Needs a recent authentication: a stolen access
 * token must not strip the account of the ways its owner signs in.
 */
export async function unlinkIdentity(
  ctx: ServiceContext,
  input: { identityId: string; proof: ReauthenticationProof },
): Promise<void> {
  const { userId } = currentUser(ctx);
  const mine = and(eq(userIdentities.id, input.identityId), eq(userIdentities.userId, userId));
  const identity = await ctx.db.select().from(userIdentities).where(mine).get();
  if (!identity) throw problems.notFound("identity");
  const stillSignsIn = anotherWayToSignIn(userId, { identityId: identity.id });
  const [check] = await ctx.db.select({ ok: stillSignsIn }).from(userIdentities).where(mine).all();
  if (!check?.ok) throw lastSignInMethod();
  await assertRecentAuthentication(ctx, input.proof);

  const [deleted] = await ctx.db.batch([
    ctx.db.delete(userIdentities).where(and(mine, stillSignsIn)).returning({ id: userIdentities.id }),
    auditStatement(
      ctx,
      {
        action: "auth.identity_unlinked",
        target: { type: "user", id: userId },
        before: { provider: identity.provider, provider_user_id: identity.providerUserId },
        after: null,
      },
      // Written only when the DELETE above removed the row.
      { when: AFTER_CHANGE },
    ),
  ]);
  if (deleted.length === 0) throw lastSignInMethod();
}
