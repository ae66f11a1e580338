/**
 * Sign-in with an identity provider, in three steps:
 *
 * 1. `beginProviderSignIn` (GET /oauth/{provider}/authorize): checks the client's
 *    redirect_uri against AUTH_REDIRECT_URLS (exactly), stores the flow (state, nonce,
 *    our PKCE verifier, the client's own PKCE challenge, the browser binding) and
 *    answers the provider's authorization URL.
 * 2. `completeProviderSignIn` (GET /oauth/{provider}/callback): spends the state,
 *    checks the browser binding, trades the provider's code and verifies who signed in
 *    (ID token or provider API), applies the linking rules (provider-accounts.ts: sign
 *    up, link, claim) and sends the browser back to the redirect_uri with a one-time
 *    code, or with `error=<code>`; never a 500 once the redirect_uri is known.
 * 3. `exchangeSignInCode` (POST /oauth/exchange): spends the code (and checks the
 *    client's PKCE verifier), then opens the session through openSession.
 *
 * The session is opened at the exchange, not at the callback: the request that opens it
 * is the client that will hold the refresh token (a mobile app, not the system browser
 * it sent to the provider), so the session's device, the new-device alert and the
 * refresh grace (same client) describe that client; and no token exists before the
 * client has shown the code and its verifier. The account work happens at the callback,
 * so its refusals are error redirects and a squatted account is claimed before an
 * identity is attached to it.
 */
import type { ServiceContext } from "../../../lib/context";
import { serializeError } from "../../../lib/logger";
import { currentUser } from "../../../lib/principal";
import { ProblemError } from "../../../lib/problem";
import { findUserById } from "../accounts";
import { invalidOrExpired } from "../email-links";
import { assertRecentAuthentication } from "../reauthentication";
import { openSession, type SignedIn, type SignInProof } from "../sign-in";
import type { IdentityProvider } from "./identity-provider";
import { resolveAccount } from "./provider-accounts";
import { providerNamed } from "./provider-catalog";
import { ProviderUnavailableError } from "./provider-fetch";
import { issueSignInCode, spendSignInCode, verifierFits } from "./sign-in-codes";
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
    if (!(await isSameBrowser(flow, input.browserBinding))) {
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
    const account = await signInAt(ctx, provider, { code: input.code, flow }, now);
    const code = await issueSignInCode(
      ctx,
      {
        userId: account.user.id,
        provider: provider.id,
        provesEmail: account.provesEmail,
        isNewUser: account.isNewUser,
        codeChallenge: flow.clientCodeChallenge,
      },
      now,
    );
    return withParams(flow.redirectUri, { code });
  } catch (error) {
    const refusal = asRefusal(ctx, provider.id, error);
    return withParams(flow.redirectUri, { error: refusal.code, error_description: refusal.description });
  }
}

async function signInAt(
  ctx: ServiceContext,
  provider: IdentityProvider,
  input: {
    code: string;
    flow: { codeVerifier: string; nonce: string; mode: "signin" | "link"; linkUserId: string | null };
  },
  now: number,
) {
  const profile = await provider.profile({
    code: input.code,
    codeVerifier: input.flow.codeVerifier,
    nonce: input.flow.nonce,
  });
  return resolveAccount(ctx, provider, profile, input.flow, now);
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
 */
export async function exchangeSignInCode(
  ctx: ServiceContext,
  input: { code: string; code_verifier?: string },
  now = Date.now(),
): Promise<SignedIn> {
  const code = await spendSignInCode(ctx, input.code, now);
  if (!code) {
    ctx.logger.warn("provider code exchange refused: unknown, expired or spent code");
    throw invalidOrExpired("sign-in code");
  }
  if (!(await verifierFits(code, input.code_verifier))) {
    ctx.logger.warn("provider code exchange refused: code_verifier does not fit", {
      provider: code.provider,
      user_id: code.userId,
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
  const user = await findUserById(ctx, code.userId);
  if (!user) throw invalidOrExpired("sign-in code");
  return openSession(ctx, user, providerProof(code.provesEmail), { now, newAccount: code.isNewUser });
}
