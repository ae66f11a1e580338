/**
 * A stolen access token, and what it can no longer do. An access token lives 15
 * minutes and refresh keeps a session alive for weeks; whoever holds one could erase
 * the account, an organization, move the account to another mailbox or mint a key with
 * every scope. These actions now need a recent authentication: the token's `auth_time`
 * within REAUTH_WINDOW (10 minutes), or the right `current_password` in the body.
 * Tokens say when and how their session authenticated (`auth_time`, `amr`, RFC 8176).
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { users } from "../src/db/schema";
import {
  type AuthTokensBody,
  createUser,
  DEFAULT_PASSWORD,
  newAddress,
  signIn,
  type TestUser,
} from "./support/factories";
import { api, as, jsonOf, type Problem, problemOf } from "./support/http";
import { watchMailbox } from "./support/mailbox";
import { createOrg } from "./support/orgs";
import { claimsOf } from "./support/tokens";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const ELEVEN_MINUTES = 11 * 60_000;

beforeEach(() => {
  watchMailbox();
});

async function expectReauthRequired(res: Response): Promise<Problem> {
  const problem = await problemOf(res, 403);
  expect(problem.code).toBe("reauthentication_required");
  return problem;
}

/** A verified person and a session opened 11 minutes ago (still alive: refresh keeps sessions going). */
async function personWithOldSignIn(): Promise<TestUser & { stale: ReturnType<typeof as> }> {
  const account = await createUser({ emailVerifiedAt: new Date() });
  const tokens = await signIn(account.user, {}, { at: Date.now() - ELEVEN_MINUTES });
  // Refreshed just now: a brand-new access token, but the authentication is still 11 minutes old.
  const refreshed = await jsonOf<AuthTokensBody>(
    await api("POST", "/api/v1/auth/refresh", { body: { refresh_token: tokens.refreshToken } }),
    200,
  );
  return { ...account, stale: as(refreshed.access_token) };
}

/** Every action the contract lists, as a request from `client` with `proof` in its body. */
const actions = {
  "DELETE /users/me": (client: ReturnType<typeof as>, _: TestUser, proof: object) =>
    client.delete("/api/v1/users/me", { body: proof }),
  "DELETE /orgs/{id}": async (client: ReturnType<typeof as>, person: TestUser, proof: object) => {
    const org = await createOrg(person.user);
    return client.delete(`/api/v1/orgs/${org.id}`, { body: proof });
  },
  "POST /users/me/email": (client: ReturnType<typeof as>, _: TestUser, proof: object) =>
    client.post("/api/v1/users/me/email", {
      body: { email: newAddress("moved"), ...proof },
    }),
  'POST /orgs/{id}/api-keys with ["*"]': async (
    client: ReturnType<typeof as>,
    person: TestUser,
    proof: object,
  ) => {
    const org = await createOrg(person.user);
    return client.post(`/api/v1/orgs/${org.id}/api-keys`, {
      body: { name: "everything", scopes: ["*"], ...proof },
    });
  },
};
const SUCCESS: Record<keyof typeof actions, number> = {
  "DELETE /users/me": 204,
  "DELETE /orgs/{id}": 204,
  "POST /users/me/email": 202,
  'POST /orgs/{id}/api-keys with ["*"]': 201,
};

describe("tokens say when and how their session authenticated", () => {
  it("a password sign-in carries auth_time and amr [pwd]; refresh keeps both", async () => {
    const account = await createUser();
    const before = Math.floor(Date.now() / 1000);
    const signedIn = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/login", { body: { email: account.email, password: account.password } }),
      200,
    );
    const first = claimsOf(signedIn.access_token);
    expect(first.amr).toEqual(["pwd"]);
    expect(first.auth_time).toBeGreaterThanOrEqual(before);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 5 * 60_000);
    const refreshed = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/refresh", { body: { refresh_token: signedIn.refresh_token } }),
      200,
    );
    vi.useRealTimers();
    const second = claimsOf(refreshed.access_token);
    expect(second.auth_time).toBe(first.auth_time);
    expect(second.amr).toEqual(["pwd"]);
    expect(second.iat as number).toBeGreaterThan(first.iat as number);
  });

  it("a magic-code sign-in carries amr [email]", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("amr");
    await api("POST", "/api/v1/auth/magic/request", { body: { email } });
    const code = (await mailbox.next(email, "magic_code")).data.code;
    const signedIn = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/magic/verify", { body: { email, code } }),
      200,
    );
    expect(claimsOf(signedIn.access_token).amr).toEqual(["email"]);
  });
});

describe.each(Object.keys(actions) as Array<keyof typeof actions>)("%s", (name) => {
  const act = actions[name];

  it("is refused with a stale sign-in and no proof, naming the accepted proofs", async () => {
    const person = await personWithOldSignIn();
    const problem = await expectReauthRequired(await act(person.stale, person, {}));
    expect(problem.accepted_proofs).toEqual(["current_password", "sign_in"]);
  });

  it("is allowed with a stale sign-in and the right current_password", async () => {
    const person = await personWithOldSignIn();
    expect((await act(person.stale, person, { current_password: DEFAULT_PASSWORD })).status).toBe(
      SUCCESS[name],
    );
  });

  it("is allowed right after a fresh sign-in, with no proof", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const fresh = as((await signIn(account.user)).accessToken);
    expect((await act(fresh, account, {})).status).toBe(SUCCESS[name]);
  });

  it("refuses a wrong current_password even right after a fresh sign-in", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const fresh = as((await signIn(account.user)).accessToken);
    const problem = await expectReauthRequired(
      await act(fresh, account, { current_password: "not my password" }),
    );
    expect(problem.errors?.[0]?.pointer).toBe("/current_password");
  });

  it("refuses an mfa_code on an account with no second factor", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const fresh = as((await signIn(account.user)).accessToken);
    await expectReauthRequired(await act(fresh, account, { mfa_code: "123456" }));
  });
});

describe("the window closes as the clock moves", () => {
  it("a sign-in allows DELETE /users/me for REAUTH_WINDOW seconds, then asks for proof", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const signedIn = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/login", { body: { email: account.email, password: account.password } }),
      200,
    );
    vi.useFakeTimers({ toFake: ["Date"] });
    // Ten minutes and one second later, through a refreshed (brand-new) access token.
    vi.setSystemTime(Date.now() + 600_000 + 1_000);
    const refreshed = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/refresh", { body: { refresh_token: signedIn.refresh_token } }),
      200,
    );
    const res = await as(refreshed.access_token).delete("/api/v1/users/me");
    vi.useRealTimers();
    await expectReauthRequired(res);
    // A new sign-in opens the window again.
    const again = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/login", { body: { email: account.email, password: account.password } }),
      200,
    );
    expect((await as(again.access_token).delete("/api/v1/users/me")).status).toBe(204);
  });
});

describe("what a refused re-authentication leaves behind", () => {
  it("nothing: the account is still there after a stale DELETE /users/me", async () => {
    const person = await personWithOldSignIn();
    await expectReauthRequired(await person.stale.delete("/api/v1/users/me"));
    expect(await db.select().from(users).where(eq(users.id, person.user.id)).get()).toBeDefined();
  });

  it("an account without a password (magic-code sign-up) is told to sign in again", async () => {
    const account = await createUser({ emailVerifiedAt: new Date(), password: undefined });
    await db.update(users).set({ passwordHash: null }).where(eq(users.id, account.user.id));
    const tokens = await signIn(account.user, {}, { at: Date.now() - ELEVEN_MINUTES, amr: ["email"] });
    const problem = await expectReauthRequired(await as(tokens.accessToken).delete("/api/v1/users/me"));
    expect(problem.accepted_proofs).toEqual(["sign_in"]);
  });

  it("wrong current_passwords are throttled like sign-in", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const fresh = as((await signIn(account.user)).accessToken, { ip: "203.0.113.61" });
    for (let i = 0; i < 5; i++) {
      await expectReauthRequired(
        await fresh.delete("/api/v1/users/me", { body: { current_password: `no ${i}` } }),
      );
    }
    const res = await fresh.delete("/api/v1/users/me", { body: { current_password: DEFAULT_PASSWORD } });
    expect((await problemOf(res, 429)).code).toBe("too_many_attempts");
  });
});
