/**
 * The revocation check of people's access tokens, on the hot path of every authenticated request:
 * KV's "not revoked" answer is trusted per session and isolate for REVOCATION_RECHECK_MS, the
 * revoking isolate refuses at once, another isolate within the window, and the memory is bounded.
 * Requests go through createApp().request() with a counting AUTH_KV (the real binding, counted)
 * so the faked clock of a test applies to the Worker's code.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import type { Bindings } from "../src/env";
import { ExpiringSet } from "../src/lib/expiring-set";
import { acceptedAccessTokenInMemory, authenticateAccessToken } from "../src/modules/auth/auth.service";
import {
  forgetLocalRevocations,
  notRevokedAnswerCount,
  REVOCATION_RECHECK_MS,
  revokedSessionKey,
} from "../src/modules/auth/sessions.service";
import { createUser, serviceContext, signIn, type Tokens } from "./support/factories";
import { kvWithOutage } from "./support/kv-outage";

/** AUTH_KV as it is, counting the reads of revocation entries. */
function countingEnv(kv: KVNamespace = env.AUTH_KV) {
  const reads: string[] = [];
  const counted = {
    get: (key: string) => {
      if (key.startsWith(revokedSessionKey(""))) reads.push(key);
      return kv.get(key);
    },
    put: (key: string, value: string, options?: KVNamespacePutOptions) => kv.put(key, value, options),
    getWithMetadata: (key: string) => kv.getWithMetadata(key),
    delete: (key: string) => kv.delete(key),
  } as unknown as KVNamespace;
  return { env: { ...env, AUTH_KV: counted } as Bindings, reads };
}

const app = createApp();
const me = (tokens: Tokens, bindings: Bindings) =>
  app.request(
    "/api/v1/users/me",
    { headers: { authorization: `Bearer ${tokens.accessToken}`, "cf-connecting-ip": "198.51.100.40" } },
    bindings,
  );
const logout = (tokens: Tokens, bindings: Bindings) =>
  app.request(
    "/api/v1/auth/logout",
    {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.accessToken}`, "cf-connecting-ip": "198.51.100.40" },
    },
    bindings,
  );

beforeEach(() => forgetLocalRevocations());
afterEach(() => vi.useRealTimers());

describe("a session's revocation check", () => {
  it("reads KV once per session and window, not once per request", async () => {
    const tokens = await signIn((await createUser()).user);
    const counting = countingEnv();
    for (let i = 0; i < 5; i++) expect((await me(tokens, counting.env)).status).toBe(200);
    expect(counting.reads).toEqual([revokedSessionKey(tokens.sessionId)]);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + REVOCATION_RECHECK_MS);
    expect((await me(tokens, counting.env)).status).toBe(200);
    expect(counting.reads).toHaveLength(2);
  });

  it("is refused at once by the isolate that revoked it, though it had just answered 'not revoked'", async () => {
    const tokens = await signIn((await createUser()).user);
    const counting = countingEnv();
    expect((await me(tokens, counting.env)).status).toBe(200);
    expect((await logout(tokens, counting.env)).status).toBe(204);
    const refused = await me(tokens, counting.env);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { detail: string }).detail).toBe("The access token has been revoked.");
  });

  it("is refused by another isolate once the window has run out after KV shows the revocation", async () => {
    const tokens = await signIn((await createUser()).user);
    const counting = countingEnv();
    expect((await me(tokens, counting.env)).status).toBe(200);
    // Another isolate revoked it: only KV knows. This isolate holds its answer for the window…
    await env.AUTH_KV.put(revokedSessionKey(tokens.sessionId), "logout", { expirationTtl: 900 });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + REVOCATION_RECHECK_MS - 1_000);
    expect((await me(tokens, counting.env)).status).toBe(200);
    // …and no longer: REVOCATION_RECHECK_MS after its KV read, the token is refused.
    vi.setSystemTime(Date.now() + 1_000);
    expect((await me(tokens, counting.env)).status).toBe(401);
  });

  it("is refused at once by an isolate that never read it (a fresh one)", async () => {
    const tokens = await signIn((await createUser()).user);
    await env.AUTH_KV.put(revokedSessionKey(tokens.sessionId), "session_revoked", { expirationTtl: 900 });
    expect((await me(tokens, countingEnv().env)).status).toBe(401);
  });

  it("keeps no answer from a failed KV read: the next request reads again", async () => {
    const tokens = await signIn((await createUser()).user);
    const outage = kvWithOutage(env.AUTH_KV);
    const counting = countingEnv(outage.kv);
    outage.state.down = true;
    // Fails open (refresh still checks D1), as before; but nothing is remembered from it.
    expect((await me(tokens, counting.env)).status).toBe(200);
    outage.state.down = false;
    await env.AUTH_KV.put(revokedSessionKey(tokens.sessionId), "logout", { expirationTtl: 900 });
    expect((await me(tokens, counting.env)).status).toBe(401);
  });

  it("remembers nothing for a token that does not verify: no one can fill the memory with forged sessions", async () => {
    const { user } = await createUser();
    const before = notRevokedAnswerCount();
    const counting = countingEnv();
    for (let i = 0; i < 5; i++) {
      const forged = {
        accessToken: `${(await signIn(user)).accessToken.slice(0, -4)}AAAA`,
        refreshToken: "",
        sessionId: "",
      };
      expect((await me(forged, counting.env)).status).toBe(401);
    }
    expect(counting.reads).toEqual([]);
    expect(notRevokedAnswerCount()).toBe(before);
  });
});

describe("a token accepted from memory (no await on the hot path)", () => {
  it("only once this isolate has verified the exact token and heard 'not revoked' for its session", async () => {
    const tokens = await signIn((await createUser()).user);
    const ctx = serviceContext();
    expect(acceptedAccessTokenInMemory(ctx, tokens.accessToken)).toBeUndefined();
    const claims = await authenticateAccessToken(ctx, tokens.accessToken);
    expect(acceptedAccessTokenInMemory(ctx, tokens.accessToken)).toBe(claims);
    // Another text, even one character off, was never verified.
    const tampered = `${tokens.accessToken.slice(0, -1)}${tokens.accessToken.endsWith("A") ? "B" : "A"}`;
    expect(acceptedAccessTokenInMemory(ctx, tampered)).toBeUndefined();
  });

  it("never past what the slow path would accept: not once revoked here, nor after the recheck window, nor for other settings", async () => {
    const tokens = await signIn((await createUser()).user);
    const ctx = serviceContext();
    await authenticateAccessToken(ctx, tokens.accessToken);
    const now = Date.now();
    expect(acceptedAccessTokenInMemory(ctx, tokens.accessToken, now)).toBeDefined();
    expect(
      acceptedAccessTokenInMemory(ctx, tokens.accessToken, now + REVOCATION_RECHECK_MS + 1),
    ).toBeUndefined();
    const otherAudience = { ...ctx, config: { ...ctx.config, JWT_AUDIENCE: "someone-else" } };
    expect(acceptedAccessTokenInMemory(otherAudience, tokens.accessToken, now)).toBeUndefined();

    expect((await logout(tokens, env as Bindings)).status).toBe(204);
    expect(acceptedAccessTokenInMemory(ctx, tokens.accessToken)).toBeUndefined();
    expect((await me(tokens, env as Bindings)).status).toBe(401);
  });

  it("knows nothing under a key ring this isolate has not imported", async () => {
    const tokens = await signIn((await createUser()).user);
    const ctx = serviceContext();
    await authenticateAccessToken(ctx, tokens.accessToken);
    const otherKeys = { ...ctx, config: { ...ctx.config, JWT_PRIVATE_KEYS: '[{"kid":"never-imported"}]' } };
    expect(acceptedAccessTokenInMemory(otherKeys, tokens.accessToken)).toBeUndefined();
  });
});

describe("ExpiringSet (the per-isolate memory)", () => {
  it("holds a key until its moment, then forgets it", () => {
    const set = new ExpiringSet(10);
    set.add("a", 1_000, 0);
    expect(set.has("a", 999)).toBe(true);
    expect(set.has("a", 1_000)).toBe(false);
    expect(set.size).toBe(0);
  });

  it("stays within its limit: expired keys go first, then the oldest added", () => {
    const set = new ExpiringSet(3);
    set.add("expired", 50, 0);
    set.add("b", 1_000, 0);
    set.add("c", 1_000, 0);
    set.add("d", 1_000, 100); // full: "expired" goes, not "b"
    expect([set.has("b", 100), set.has("c", 100), set.has("d", 100), set.has("expired", 10)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    set.add("b", 2_000, 100); // re-added: now the newest
    set.add("e", 1_000, 100); // full: the oldest is now "c"
    expect(set.size).toBe(3);
    expect([set.has("c", 100), set.has("b", 100), set.has("d", 100), set.has("e", 100)]).toEqual([
      false,
      true,
      true,
      true,
    ]);
    for (let i = 0; i < 1_000; i++) set.add(`flood-${i}`, 10_000, 100);
    expect(set.size).toBe(3);
  });
});
