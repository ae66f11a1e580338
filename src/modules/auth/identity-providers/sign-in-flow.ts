/**
 * One provider sign-in flow, from GET /oauth/{provider}/authorize to the provider's
 * return to /callback. What the browser carries is only the random `state`; everything
 * else stays in a D1 row (provider_sign_in_states) that the callback spends with a
 * conditional DELETE … RETURNING: 10 minutes, once.
 *
 * The flow is also bound to the browser that started it: /authorize sets an HttpOnly,
 * SameSite=Lax cookie holding a random binding (reused while it lives, so two tabs can
 * sign in at once), and the state row keeps its hash. A callback without that cookie
 * (a callback URL someone else's flow produced, opened in your browser: login CSRF) is
 * refused, unless the flow carries the client's own PKCE challenge: then the verifier,
 * required at the exchange, binds it instead (provider-sign-in.service.ts). The cookie is
 * `__Host-` prefixed (Secure, Path=/, no Domain: no sibling subdomain can set or read it)
 * whenever the API is served over https.
 */
import { and, eq, gt } from "drizzle-orm";
import { type ProviderSignInState, providerSignInStates } from "../../../db/schema";
import type { Config } from "../../../env";
import type { ServiceContext } from "../../../lib/context";
import { randomToken, sha256Hex, timingSafeEqual } from "../../../lib/crypto";
import { uuidv7 } from "../../../lib/ids";
import type { ProviderFlow } from "./identity-provider";

export const SIGN_IN_FLOW_TTL_MS = 10 * 60 * 1000;

/** 32 random bytes, base64url: what the state, the nonce, the verifiers and the binding all are. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export const isFlowSecret = (value: string | undefined): value is string =>
  value !== undefined && SECRET_PATTERN.test(value);

/** The binding cookie's name: `__Host-` needs https, so a plain-http local API uses the bare name. */
export function browserBindingCookieName(config: Pick<Config, "APP_URL">): string {
  return config.APP_URL.startsWith("https:") ? "__Host-idp_binding" : "idp_binding";
}

export type NewSignInFlow = {
  provider: string;
  redirectUri: string;
  mode: "signin" | "link";
  linkUserId: string | null;
  clientCodeChallenge: string | null;
  /** The browser's binding: the cookie it already has, or a new one the response sets. */
  browserBinding: string;
};

/** Fresh secrets for a flow toward the provider: state, nonce and our PKCE verifier. */
export function newProviderFlow(): ProviderFlow {
  return { state: randomToken(32), nonce: randomToken(32), codeVerifier: randomToken(32) };
}

/** Stores the flow (after its authorization URL could be built). */
export async function saveSignInFlow(
  ctx: ServiceContext,
  flow: ProviderFlow,
  input: NewSignInFlow,
  now = Date.now(),
): Promise<void> {
  await ctx.db.insert(providerSignInStates).values({
    id: uuidv7(now),
    stateHash: await sha256Hex(flow.state),
    provider: input.provider,
    browserBindingHash: await sha256Hex(input.browserBinding),
    nonce: flow.nonce,
    codeVerifier: flow.codeVerifier,
    redirectUri: input.redirectUri,
    mode: input.mode,
    linkUserId: input.linkUserId,
    clientCodeChallenge: input.clientCodeChallenge,
    expiresAt: new Date(now + SIGN_IN_FLOW_TTL_MS),
    createdAt: new Date(now),
  });
}

/**
 * Spends the flow `state` names, whatever happens next: a state is presented once. Null
 * when it is unknown, expired or already spent.
 */
export async function spendSignInFlow(
  ctx: ServiceContext,
  state: string,
  now = Date.now(),
): Promise<ProviderSignInState | null> {
  const [row] = await ctx.db
    .delete(providerSignInStates)
    .where(
      and(
        eq(providerSignInStates.stateHash, await sha256Hex(state)),
        gt(providerSignInStates.expiresAt, new Date(now)),
      ),
    )
    .returning();
  return row ?? null;
}

/** True when the request's binding cookie is the one the flow was started with. */
export async function isSameBrowser(
  flow: ProviderSignInState,
  binding: string | undefined,
): Promise<boolean> {
  if (!isFlowSecret(binding)) return false;
  return timingSafeEqual(await sha256Hex(binding), flow.browserBindingHash);
}
