/**
 * Which account a verified provider sign-in belongs to (the linking rules). Decided in
 * two halves: `planAccount` only reads, and runs at the callback (so a refusal reaches
 * the client as an error redirect) and again at the exchange (things may have changed in
 * between); `applyPlan` writes, at the exchange only, once the client has shown the
 * one-time code and its PKCE verifier.
 *
 * mode=signin
 * 1. The identity (provider, provider user id) is linked already: its account, whatever
 *    address the provider gives now (people change addresses); the identity's stored
 *    address and `email_verified` are refreshed.
 * 2. Not linked, and an account has the provider's address:
 *    - the provider verified the address: the identity is linked to that account (a
 *      never-verified one is claimed first: the password set before the proof is cleared
 *      and its sessions revoked, so an identity is never attached to an account a
 *      squatter holds), and the owner is told;
 *    - not verified: refused (`email_not_verified`); an unverified address never links.
 * 3. No account has it: a new account (createAccount: its personal organization, the
 *    welcome or verification email), verified only when the provider verified the
 *    address. With AUTH_EMAIL_VERIFICATION=required an unverified address signs nobody
 *    up (`email_not_verified`, whether or not the address has an account).
 *
 * mode=link: the identity is linked to the signed-in account that started the flow
 * (whatever its address), unless another account has it (`identity_already_linked`).
 *
 * A disabled account is refused (`account_disabled`). The sign-in counts as a proof of the
 * mailbox only when the provider verified the account's own address (never in mode=link:
 * linking proves who holds the provider account, not this account's mailbox).
 */
import type { User, UserIdentity } from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";
import { ProblemError } from "../../../lib/problem";
import { claimAccount, createAccount, findUserByEmail, findUserById } from "../accounts";
import { findIdentity, linkIdentity, refreshIdentity, reportIdentityLinked } from "./identities.service";
import type { IdentityProvider, ProviderProfile } from "./identity-provider";
import { SignInRefusal } from "./sign-in-refusal";

export type SignInIntent = { mode: "signin" | "link"; linkUserId: string | null };

type Provider = Pick<IdentityProvider, "id" | "name">;

/** What the exchange will do, decided from reads only. */
export type AccountPlan =
  | { kind: "identity"; identity: UserIdentity; user: User; provesEmail: boolean }
  | { kind: "link_by_email"; user: User }
  | { kind: "sign_up"; email: string }
  | { kind: "link_to_signed_in"; user: User; identity: UserIdentity | undefined };

export type ResolvedAccount = { user: User; provesEmail: boolean; isNewUser: boolean };

export async function planAccount(
  ctx: ServiceContext,
  provider: Provider,
  profile: ProviderProfile,
  intent: SignInIntent,
): Promise<AccountPlan> {
  const identity = await findIdentity(ctx, provider.id, profile.subject);
  if (intent.mode === "link") {
    const user = activeAccount(intent.linkUserId ? await findUserById(ctx, intent.linkUserId) : undefined);
    if (identity && identity.userId !== user.id) {
      throw new SignInRefusal("identity_already_linked", "mode=link with an identity of another account");
    }
    return { kind: "link_to_signed_in", user, identity };
  }

  if (identity) {
    const user = activeAccount(await findUserById(ctx, identity.userId));
    const provesEmail = profile.emailVerified && profile.email === user.email;
    if (ctx.config.AUTH_EMAIL_VERIFICATION === "required" && user.emailVerifiedAt === null && !provesEmail) {
      throw new SignInRefusal("email_not_verified", "unverified account, verification required");
    }
    return { kind: "identity", identity, user, provesEmail };
  }
  if (profile.email === null) {
    throw new SignInRefusal("email_missing", "the provider gave no email address and no identity is linked");
  }
  if (!profile.emailVerified && ctx.config.AUTH_EMAIL_VERIFICATION === "required") {
    throw new SignInRefusal("email_not_verified", "unverified provider address, verification required");
  }
  const existing = await findUserByEmail(ctx, profile.email);
  if (!existing) return { kind: "sign_up", email: profile.email };
  if (!profile.emailVerified) {
    throw new SignInRefusal(
      "email_not_verified",
      "an account has this address and the provider did not verify it",
    );
  }
  return { kind: "link_by_email", user: activeAccount(existing) };
}

export async function applyPlan(
  ctx: ServiceContext,
  provider: Provider,
  profile: ProviderProfile,
  plan: AccountPlan,
  now = Date.now(),
): Promise<ResolvedAccount> {
  switch (plan.kind) {
    case "identity":
      await refreshIdentity(ctx, plan.identity, profile, now);
      return { user: plan.user, provesEmail: plan.provesEmail, isNewUser: false };
    case "link_by_email": {
      // Claimed before anything is attached to it: what a squatter set up goes first.
      const user = await claimAccount(ctx, plan.user, now);
      const identity = await linkIdentity(ctx, { userId: user.id, provider: provider.id, profile }, now);
      await reportIdentityLinked(ctx, { user, providerName: provider.name, identity }, now);
      return { user, provesEmail: true, isNewUser: false };
    }
    case "sign_up": {
      const user = await signUp(ctx, plan.email, profile, now);
      await linkIdentity(ctx, { userId: user.id, provider: provider.id, profile }, now);
      return { user, provesEmail: profile.emailVerified, isNewUser: true };
    }
    case "link_to_signed_in":
      if (plan.identity) {
        await refreshIdentity(ctx, plan.identity, profile, now);
      } else {
        const identity = await linkIdentity(
          ctx,
          { userId: plan.user.id, provider: provider.id, profile },
          now,
        );
        await reportIdentityLinked(ctx, { user: plan.user, providerName: provider.name, identity }, now);
      }
      return { user: plan.user, provesEmail: false, isNewUser: false };
  }
}

async function signUp(
  ctx: ServiceContext,
  email: string,
  profile: ProviderProfile,
  now: number,
): Promise<User> {
  try {
    return await createAccount(
      ctx,
      {
        email,
        firstName: profile.firstName,
        lastName: profile.lastName,
        passwordHash: null,
        emailVerified: profile.emailVerified,
      },
      now,
    );
  } catch (error) {
    if (error instanceof ProblemError && error.code === "email_taken") {
      throw new SignInRefusal("email_taken", "another sign-up took the address at the same moment");
    }
    throw error;
  }
}

function activeAccount(user: User | undefined): User {
  if (!user) throw new SignInRefusal("invalid_state", "the account of this flow no longer exists");
  if (!user.isActive) throw new SignInRefusal("account_disabled", "the account is disabled");
  return user;
}
