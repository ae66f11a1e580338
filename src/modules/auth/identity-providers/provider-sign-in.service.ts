/**
 * Sign-in with an identity provider, in three steps:
 *
 * 1. `beginProviderSignIn` (GET /oauth/{provider}/authorize): checks the client's
 *    redirect_uri against AUTH_REDIRECT_URLS (exactly), stores the flow (state, nonce,
 *    our PKCE verifier, the client's own PKCE challenge, the browser binding) and
 *    answers the provider's authorization URL.
 * 2. `completeProviderSignIn` (GET /oauth/{provider}/callback): spends the state,
 *    checks that the flow is this client's, trades the provider's code and verifies who
 *    signed in (ID token or provider API), checks the linking rules (provider-accounts.ts)
 *    and sends the browser back to the redirect_uri with a one-time code, or with
 *    `error=<code>`; never a 500 once the redirect_uri is known.
 * 3. `exchangeSignInCode` (POST /oauth/exchange): spends the code (and checks the
 *    client's PKCE verifier), then does the account work (sign up, link, claim) and
 *    opens the session through openSession.
 *
 * A flow is bound to the client that started it: by the browser cookie /authorize set
 * (checked at the callback), or, when the client sent its own code_challenge, by the
 * verifier at the exchange. The PKCE binding is what lets a client whose HTTP requests
 * do not share the browser's cookies (a SPA calling the API cross-origin with
 * `Accept: application/json`, a native app linking an account) use the flow; it is as
 * strong against login CSRF, since a code the victim's browser is sent to cannot be
 * exchanged without the verifier that stayed with the attacker.
 *
 * Nothing is written to an account, and no session opened, before the exchange: the
 * request that does it is the client that will hold the refresh token (a mobile app,
 * not the system browser it sent to the provider), so the account's first device, the
 * session's device, the new-device alert and the refresh grace (same client) describe
 * that client, and a flow that is abandoned, or whose code never reaches its client,
 * changes nothing. The rules are checked at the callback too, so their refusals reach
 * the client as error redirects.
 */
import type { ServiceContext } from "../../../lib/context";
import { serializeError } from "../../../lib/logger";
import { currentUser } from "../../../lib/principal";
import { ProblemError } from "../../../lib/problem";
import { invalidOrExpired } from "../email-links";
import { assertRecentAuthentication } from "../reauthentication";
import { openSession, type SignInOutcome, type SignInProof } from "../sign-in";
import { applyPlan, planAccount, type ResolvedAccount } from "./provider-accounts";
import { configuredProviders, providerNamed } from "./provider-catalog";
import { ProviderUnavailableError } from "./provider-fetch";
import { issueSignInCode, profileOf, spendSignInCode, verifierFits } from "./sign-in-codes";
import { isSameBrowser, newProviderFlow, saveSignInFlow, spendSignInFlow } from "./sign-in-flow";
import { type SignInErrorCode, SignInRefusal } from "./sign-in-refusal";

/** What the provider sign-in proves: `amr: ["fed"]` (RFC 8176), and the mailbox only when the provider verified the account's address. */
export const providerProof = (provesEmail: boolean): SignInProof => ({
  method: "provider",
  amr: ["fed"],
  provesEmail,
});

export type AuthorizeInput = {
  provider: string;
  redirect_uri: string;
  mode: "signin" | "link";
  code_challenge?: string;
  /** The browser's binding cookie: the one it sent, or a fresh one the response sets. */
  browserBinding: string;
};

const redirectUriNotAllowed = (allowed: string[]) =>
  new ProblemError({
    status: 400,
    code: "redirect_uri_not_allowed",
    detail:
      allowed.length === 0
        ? "No redirect_uri is allowed: AUTH_REDIRECT_URLS is empty on this server."
        : "The redirect_uri is not one of AUTH_REDIRECT_URLS (it must match one exactly: scheme, host, port, path and query).",
    errors: [{ parameter: "redirect_uri", location: "query", detail: "Not an allowed redirect URI." }],
  });

/**
 * GET /oauth/{provider}/authorize. An unknown provider is 404, a redirect_uri off the
 * allowlist 400 (never redirected to), mode=link needs a person's access token from a
 * recent sign-in (a stolen token must not attach an attacker's provider account).
 */
export async function beginProviderSignIn(
  ctx: ServiceContext,
  input: AuthorizeInput,
  now = Date.now(),
): Promise<{ kind: "provider"; url: URL } | { kind: "provider_unavailable"; errorRedirect: URL }> {
  const provider = providerNamed(ctx.config, input.provider);
  if (!ctx.config.AUTH_REDIRECT_URLS.includes(input.redirect_uri)) {
    ctx.logger.warn("provider sign-in refused: redirect_uri not allowed", { provider: provider.id });
    throw redirectUriNotAllowed(ctx.config.AUTH_REDIRECT_URLS);
  }
  let linkUserId: string | null = null;
  if (input.mode === "link") {
    linkUserId = currentUser(ctx).userId;
    await assertRecentAuthentication(ctx, {}, now);
  }
  const flow = newProviderFlow();
  let url: URL;
  try {
    url = await provider.authorizationUrl(flow);
  } catch (error) {
    if (!(error instanceof ProviderUnavailableError)) throw error;
    const refusal = asRefusal(ctx, provider.id, error);
    return {
      kind: "provider_unavailable",
      errorRedirect: withParams(input.redirect_uri, {
        error: refusal.code,
        error_description: refusal.description,
      }),
    };
  }
  await saveSignInFlow(
    ctx,
    flow,
    {
      provider: provider.id,
      redirectUri: input.redirect_uri,
      mode: input.mode,
      linkUserId,
      clientCodeChallenge: input.code_challenge ?? null,
      browserBinding: input.browserBinding,
    },
    now,
  );
  return { kind: "provider", url };
}

export type CallbackInput = {
  provider: string;
  code?: string;
  state?: string;
  error?: string;
  browserBinding?: string;
};

export const invalidState = () =>
  new ProblemError({
    status: 400,
    code: "invalid_state",
    detail:
      "This sign-in is unknown, expired (10 minutes) or already completed, so there is nowhere safe to send you back to. Start the sign-in again from the app.",
    errors: [{ parameter: "state", location: "query", detail: "Unknown, expired or already used." }],
  });

/**
 * GET /oauth/{provider}/callback: where to send the browser. Throws only while the
 * client's redirect_uri is unknown (no state, or one that is unknown, expired, spent or
 * of another provider: 400 `invalid_state`, since a redirect there would go wherever
 * the request says); from then on every outcome, refusals and surprises included, is a
 * redirect to that URI.
 */
export async function completeProviderSignIn(
  ctx: ServiceContext,
  input: CallbackInput,
  now = Date.now(),
): Promise<URL> {
  const provider = providerNamed(ctx.config, input.provider);
  const flow = input.state ? await spendSignInFlow(ctx, input.state, now) : null;
  if (!flow || flow.provider !== provider.id) {
    ctx.logger.warn("provider sign-in refused: invalid_state", {
      provider: provider.id,
      reason: flow ? "state of another provider" : input.state ? "unknown, expired or spent" : "no state",
    });
    throw invalidState();
  }
  try {
    // A flow with the client's own PKCE challenge is bound by its verifier at the exchange.
    if (flow.clientCodeChallenge === null && !(await isSameBrowser(flow, input.browserBinding))) {
      throw new SignInRefusal(
        "invalid_state",
        input.browserBinding
          ? "the browser-binding cookie is another browser's"
          : "no browser-binding cookie",
      );
    }
    if (input.error !== undefined) {
      const code: SignInErrorCode = input.error === "access_denied" ? "access_denied" : "provider_error";
      throw new SignInRefusal(code, `the provider returned error=${input.error.slice(0, 100)}`);
    }
    if (!input.code) throw new SignInRefusal("invalid_request", "no code on the callback");
    const profile = await provider.profile({
      code: input.code,
      codeVerifier: flow.codeVerifier,
      nonce: flow.nonce,
    });
    const intent = { mode: flow.mode, linkUserId: flow.linkUserId };
    // Checked now so that a refusal is an error redirect; applied at the exchange.
    await planAccount(ctx, provider, profile, intent);
    const code = await issueSignInCode(
      ctx,
      { provider: provider.id, profile, intent, codeChallenge: flow.clientCodeChallenge },
      now,
    );
    return withParams(flow.redirectUri, { code });
  } catch (error) {
    const refusal = asRefusal(ctx, provider.id, error);
    return withParams(flow.redirectUri, { error: refusal.code, error_description: refusal.description });
  }
}

/** Any failure as the refusal the client is told, logged with the request id (the logger carries it). */
function asRefusal(ctx: ServiceContext, provider: string, error: unknown): SignInRefusal {
  if (error instanceof SignInRefusal) {
    ctx.logger.warn(`provider sign-in refused: ${error.code}`, { provider, reason: error.reason });
    return error;
  }
  if (error instanceof ProviderUnavailableError) {
    ctx.logger.warn("provider sign-in refused: provider_unavailable", {
      provider,
      reason: error.message,
      error: serializeError(error.cause ?? error),
    });
    return new SignInRefusal("provider_unavailable", error.message);
  }
  if (error instanceof ProblemError && error.code === "account_disabled") {
    ctx.logger.warn("provider sign-in refused: account_disabled", { provider });
    return new SignInRefusal("account_disabled", error.message);
  }
  ctx.logger.error("provider sign-in failed unexpectedly", { provider, error: serializeError(error) });
  return new SignInRefusal("server_error", "unexpected error");
}

/** `uri` with `params` added to its query (kept as is otherwise; custom schemes included). */
function withParams(uri: string, params: Record<string, string>): URL {
  const url = new URL(uri);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url;
}

/**
 * POST /oauth/exchange: the one-time code (and the client's PKCE verifier when the flow
 * had a challenge) for a token pair. Any presentation spends the code; a wrong, missing
 * or unexpected verifier, like an unknown, expired or spent code, is 400 `invalid_or_expired`.
 * An account with an authenticator app gets the MFA step instead of the pair (openSession).
 */
export async function exchangeSignInCode(
  ctx: ServiceContext,
  input: { code: string; code_verifier?: string },
  now = Date.now(),
): Promise<SignInOutcome> {
  const code = await spendSignInCode(ctx, input.code, now);
  // The provider may have been removed from the configuration within the minute: the code is dead.
  if (!code || !configuredProviders(ctx.config).has(code.provider)) {
    ctx.logger.warn("provider code exchange refused: unknown, expired or spent code");
    throw invalidOrExpired("sign-in code");
  }
  if (!(await verifierFits(code, input.code_verifier))) {
    ctx.logger.warn("provider code exchange refused: code_verifier does not fit", {
      provider: code.provider,
    });
    throw new ProblemError({
      status: 400,
      code: "invalid_or_expired",
      detail:
        code.codeChallenge === null
          ? "This sign-in was started without a code_challenge, so no code_verifier is accepted. The code is spent: sign in again."
          : "The code_verifier is missing or does not match the code_challenge this sign-in was started with. The code is spent: sign in again.",
      errors: [{ pointer: "/code_verifier", detail: "Does not match this sign-in." }],
    });
  }
  const provider = providerNamed(ctx.config, code.provider);
  const profile = profileOf(code);
  let account: ResolvedAccount;
  try {
    const plan = await planAccount(ctx, provider, profile, { mode: code.mode, linkUserId: code.linkUserId });
    account = await applyPlan(ctx, provider, profile, plan, now);
  } catch (error) {
    if (!(error instanceof SignInRefusal)) throw error;
    ctx.logger.warn(`provider code exchange refused: ${error.code}`, {
      provider: provider.id,
      reason: error.reason,
    });
    throw refusalProblem(error);
  }
  return openSession(ctx, account.user, providerProof(account.provesEmail), {
    now,
    newAccount: account.isNewUser,
  });
}

/** A refusal at the exchange (something changed since the callback checked), as a problem. */
function refusalProblem(refusal: SignInRefusal): ProblemError {
  const status: Partial<Record<SignInErrorCode, number>> = {
    email_not_verified: 403,
    account_disabled: 403,
    identity_already_linked: 409,
    email_taken: 409,
  };
  if (refusal.code === "invalid_state") return invalidOrExpired("sign-in code");
  return new ProblemError({
    status: status[refusal.code] ?? 400,
    code: refusal.code,
    detail: refusal.description,
  });
}
