import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../../app-env";
import { setLinkHeader } from "../../../lib/pagination";
import { NO_STORE, tokensBody } from "../auth.handlers";
import { type SignedIn, sessionOf } from "../sign-in";
import { beginPasskeyRegistration, finishPasskeyRegistration } from "./passkey-registration.service";
import { beginPasskeySignIn, signInWithPasskey } from "./passkey-sign-in.service";
import type * as routes from "./passkeys.routes";
import * as passkeys from "./passkeys.service";

export const registrationOptions: RouteHandler<typeof routes.registrationOptions, AppEnv> = async (c) => {
  const options = await beginPasskeyRegistration(c.get("ctx"), c.req.valid("json") ?? {});
  // A challenge is single use: no cache (and no idempotent replay) may hand it out twice.
  return c.json(options, 200, NO_STORE);
};

export const registrationVerify: RouteHandler<typeof routes.registrationVerify, AppEnv> = async (c) => {
  const passkey = await finishPasskeyRegistration(c.get("ctx"), c.req.valid("json"));
  c.header("Location", `/api/v1/users/me/passkeys/${passkey.id}`);
  return c.json(passkeys.toPasskeyDto(passkey), 201);
};

export const loginOptions: RouteHandler<typeof routes.loginOptions, AppEnv> = async (c) => {
  const { challengeId, options } = await beginPasskeySignIn(c.get("ctx"), c.req.valid("json") ?? {});
  return c.json({ challenge_id: challengeId, options }, 200, NO_STORE);
};

export const loginVerify: RouteHandler<typeof routes.loginVerify, AppEnv> = async (c) => {
  const { challenge_id, response } = c.req.valid("json");
  const signedIn = await signInWithPasskey(c.get("ctx"), { challengeId: challenge_id, response });
  return signInAnswer(c, sessionOf(signedIn));
};

/**
 * What a passkey sign-in answers: the token pair, as POST /login does. The one place the
 * outcome of openSession becomes a response (a user-verified passkey satisfies MFA, so
 * it is always a session).
 */
function signInAnswer(c: Context<AppEnv>, signedIn: SignedIn) {
  return c.json(tokensBody(signedIn), 200, NO_STORE);
}

export const listMyPasskeys: RouteHandler<typeof routes.listMyPasskeys, AppEnv> = async (c) => {
  const page = await passkeys.listMyPasskeys(c.get("ctx"), c.req.valid("query"));
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(passkeys.toPasskeyDto), meta: page.meta }, 200);
};

export const getMyPasskey: RouteHandler<typeof routes.getMyPasskey, AppEnv> = async (c) => {
  const passkey = await passkeys.getMyPasskey(c.get("ctx"), c.req.valid("param").id);
  return c.json(passkeys.toPasskeyDto(passkey), 200);
};

export const renameMyPasskey: RouteHandler<typeof routes.renameMyPasskey, AppEnv> = async (c) => {
  const passkey = await passkeys.renameMyPasskey(c.get("ctx"), {
    passkeyId: c.req.valid("param").id,
    name: c.req.valid("json").name,
  });
  return c.json(passkeys.toPasskeyDto(passkey), 200);
};

export const removeMyPasskey: RouteHandler<typeof routes.removeMyPasskey, AppEnv> = async (c) => {
  await passkeys.removeMyPasskey(c.get("ctx"), {
    passkeyId: c.req.valid("param").id,
    proof: c.req.valid("json") ?? {},
  });
  return c.body(null, 204);
};
