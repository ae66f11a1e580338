import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../../../app-env";
import { randomToken } from "../../../lib/crypto";
import { currentUser } from "../../../lib/principal";
import { ProblemError, problems } from "../../../lib/problem";
import { authenticationFailure } from "../../../middleware/authenticate";
import { NO_STORE, signInBody, tokensBody } from "../auth.handlers";
import { needsSecondFactor } from "../sign-in";
import { listIdentities, toIdentityDto, unlinkIdentity } from "./identities.service";
import type * as routes from "./identity-providers.routes";
import { configuredProviders } from "./provider-catalog";
import { beginProviderSignIn, completeProviderSignIn, exchangeSignInCode } from "./provider-sign-in.service";
import { browserBindingCookieName, isFlowSecret, SIGN_IN_FLOW_TTL_MS } from "./sign-in-flow";
import { SIGN_IN_ERROR_CODES } from "./sign-in-refusal";

export const listProviders: RouteHandler<typeof routes.listProviders, AppEnv> = async (c) => {
  const data = [...configuredProviders(c.get("ctx").config).values()].map(({ id, name, type }) => ({
    id,
    name,
    type,
  }));
  return c.json({ data }, 200, { "Cache-Control": "public, max-age=60" });
};

/** The browser's binding: the cookie it has (two tabs signing in at once share it), or a new one. */
function browserBinding(c: Context<AppEnv>): string {
  const name = browserBindingCookieName(c.get("ctx").config);
  const existing = getCookie(c, name);
  const binding = isFlowSecret(existing) ? existing : randomToken(32);
  setCookie(c, name, binding, {
    path: "/",
    httpOnly: true,
    // Lax: sent on the provider's top-level GET redirect back to the callback, never on cross-site subrequests.
    sameSite: "Lax",
    secure: c.get("ctx").config.APP_URL.startsWith("https:"),
    maxAge: SIGN_IN_FLOW_TTL_MS / 1000,
  });
  return binding;
}

const wantsJson = (c: Context<AppEnv>) => /\bapplication\/json\b/i.test(c.req.header("accept") ?? "");

/** Redirects that carry sign-in state: never cached, never leaked as a Referer. */
const REDIRECT_HEADERS = { "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" };

function redirect(c: Context<AppEnv>, location: URL) {
  for (const [name, value] of Object.entries(REDIRECT_HEADERS)) c.header(name, value);
  return c.redirect(location.toString(), 302);
}

export const authorize: RouteHandler<typeof routes.authorize, AppEnv> = async (c) => {
  const { provider } = c.req.valid("param");
  const query = c.req.valid("query");
  if (query.mode === "link" && c.get("principal").kind !== "user") {
    // The reason a token was refused (expired, revoked …) is worth more than "authentication is required".
    throw c.get("principal").kind === "anonymous"
      ? (authenticationFailure(c) ?? problems.unauthorized("mode=link needs your access token (Bearer)."))
      : problems.forbidden("mode=link links a provider to a person's account; API keys cannot use it.");
  }
  const started = await beginProviderSignIn(c.get("ctx"), {
    provider,
    redirect_uri: query.redirect_uri,
    mode: query.mode,
    code_challenge: query.code_challenge,
    browserBinding: browserBinding(c),
  });
  if (started.kind === "provider_unavailable") {
    if (!wantsJson(c)) return redirect(c, started.errorRedirect);
    throw new ProblemError({
      status: 503,
      code: "provider_unavailable",
      detail: SIGN_IN_ERROR_CODES.provider_unavailable,
    });
  }
  if (wantsJson(c)) return c.json({ url: started.url.toString() }, 200, NO_STORE);
  return redirect(c, started.url);
};

export const callback: RouteHandler<typeof routes.callback, AppEnv> = async (c) => {
  const { provider } = c.req.valid("param");
  const query = c.req.valid("query");
  const location = await completeProviderSignIn(c.get("ctx"), {
    provider,
    code: query.code,
    state: query.state,
    error: query.error,
    browserBinding: getCookie(c, browserBindingCookieName(c.get("ctx").config)),
  });
  return redirect(c, location);
};

export const exchange: RouteHandler<typeof routes.exchange, AppEnv> = async (c) => {
  const outcome = await exchangeSignInCode(c.get("ctx"), c.req.valid("json"));
  if (needsSecondFactor(outcome)) return c.json(signInBody(outcome), 200, NO_STORE);
  return c.json({ ...tokensBody(outcome), is_new_user: outcome.isNewUser }, 200, NO_STORE);
};

export const listMyIdentities: RouteHandler<typeof routes.listMyIdentities, AppEnv> = async (c) => {
  const identities = await listIdentities(c.get("ctx"), currentUser(c.get("ctx")).userId);
  return c.json({ data: identities.map(toIdentityDto) }, 200);
};

export const unlinkMyIdentity: RouteHandler<typeof routes.unlinkMyIdentity, AppEnv> = async (c) => {
  await unlinkIdentity(c.get("ctx"), { identityId: c.req.valid("param").id, proof: c.req.valid("json") });
  return c.body(null, 204);
};
