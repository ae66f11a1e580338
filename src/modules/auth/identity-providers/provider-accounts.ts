/**
 * Which account a verified provider sign-in belongs to (the linking rules), decided at
 * the callback so that every refusal reaches the client as an error redirect:
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
 * mailbox only when the provider verified the account's own address.
 */
import type { User } from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";
import { ProblemError } from "../../../lib/problem";
import { claimAccount, createAccount, findUserByEmail, findUserById } from "../accounts";
import { findIdentity, linkIdentity, refreshIdentity, reportIdentityLinked } from "./identities.service";
import type { IdentityProvider, ProviderProfile } from "./identity-provider";
import { SignInRefusal } from "./sign-in-refusal";

export type ResolvedAccount = { user: User; provesEmail: boolean; isNewUser: boolean };

type Flow = { mode: "signin" | "link"; linkUserId: string | null };

export async function resolveAccount(
  ctx: ServiceContext,
  provider: Pick<IdentityProvider, "id" | "name">,
  profile: ProviderProfile,
  flow: Flow,
  now = Date.now(),
): Promise<ResolvedAccount> {
  if (flow.mode === "link") return linkToSignedInAccount(ctx, provider, profile, flow.linkUserId, now);

  const provesEmailOf = (user: User) => profile.emailVerified && profile.email === user.email;
  const identity = await findIdentity(ctx, provider.id, profile.subject);
  if (identity) {
    const user = activeAccount(await findUserById(ctx, identity.userId));
    await refreshIdentity(ctx, identity, profile, now);
    const provesEmail = provesEmailOf(user);
    assertMayReceiveTokens(ctx, user, provesEmail);
    return { user, provesEmail, isNewUser: false };
  }

  if (profile.email === null) {
    throw new SignInRefusal("email_missing", "the provider gave no email address and no identity is linked");
  }
  if (!profile.emailVerified && ctx.config.AUTH_EMAIL_VERIFICATION === "required") {
    throw new SignInRefusal("email_not_verified", "unverified provider address, verification required");
  }
  const existing = await findUserByEmail(ctx, profile.email);
  if (existing) return linkByVerifiedEmail(ctx, provider, profile, existing, now);

  let created: User;
  try {
    created = await createAccount(
      ctx,
      {
        email: profile.email,
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
  await linkIdentity(ctx, { userId: created.id, provider: provider.id, profile }, now);
  return { user: created, provesEmail: profile.emailVerified, isNewUser: true };
}

/** Rule 2: an account has the provider's address. */
async function linkByVerifiedEmail(
  ctx: ServiceContext,
  provider: Pick<IdentityProvider, "id" | "name">,
  profile: ProviderProfile,
  existing: User,
  now: number,
): Promise<ResolvedAccount> {
  if (!profile.emailVerified) {
    throw new SignInRefusal(
      "email_not_verified",
      "an account has this address and the provider did not verify it",
    );
  }
  activeAccount(existing);
  // Claimed before anything is attached to it: what a squatter set up goes first.
  const user = await claimAccount(ctx, existing, now);
  const identity = await linkIdentity(ctx, { userId: user.id, provider: provider.id, profile }, now);
  await reportIdentityLinked(ctx, { user, providerName: provider.name, identity }, now);
  return { user, provesEmail: true, isNewUser: false };
}

/** mode=link: the account that started the flow (its owner was signed in, recently). */
async function linkToSignedInAccount(
  ctx: ServiceContext,
  provider: Pick<IdentityProvider, "id" | "name">,
  profile: ProviderProfile,
  linkUserId: string | null,
  now: number,
): Promise<ResolvedAccount> {
  const user = activeAccount(linkUserId ? await findUserById(ctx, linkUserId) : undefined);
  const identity = await findIdentity(ctx, provider.id, profile.subject);
  if (identity && identity.userId !== user.id) {
    throw new SignInRefusal("identity_already_linked", "mode=link with an identity of another account");
  }
  if (identity) {
    await refreshIdentity(ctx, identity, profile, now);
  } else {
    const linked = await linkIdentity(ctx, { userId: user.id, provider: provider.id, profile }, now);
    await reportIdentityLinked(ctx, { user, providerName: provider.name, identity: linked }, now);
  }
  // Linking proves who holds the provider account, not the mailbox of this one: no claim from here.
  return { user, provesEmail: false, isNewUser: false };
}

function activeAccount(user: User | undefined): User {
  if (!user) throw new SignInRefusal("invalid_state", "the account of this flow no longer exists");
  if (!user.isActive) throw new SignInRefusal("account_disabled", "the account is disabled");
  return user;
}

/** AUTH_EMAIL_VERIFICATION=required: no tokens for an unverified account unless this sign-in proves its address. */
function assertMayReceiveTokens(ctx: ServiceContext, user: User, provesEmail: boolean): void {
  if (ctx.config.AUTH_EMAIL_VERIFICATION === "required" && user.emailVerifiedAt === null && !provesEmail) {
    throw new SignInRefusal("email_not_verified", "unverified account, verification required");
  }
}
