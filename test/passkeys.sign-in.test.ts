/**
 * Signing in with a passkey: discoverable (no email) and email-first, the token pair
 * and its `amr`, the new-device alert, and every forged or replayed assertion refused
 * with 401 `invalid_passkey`: a reused or expired challenge, another origin, another
 * RP ID hash, another key's signature, a counter that went backwards, no user
 * verification, an unknown credential, a user handle that is not the owner's, a
 * credential the options did not offer. Login options never reveal whether an email
 * has an account.
 */
import { env, exports } from "cloudflare:workers";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { passkeyChallenges, passkeyCredentials, users } from "../src/db/schema";
import { totpCode, totpStep } from "../src/modules/auth/totp";
import { type AuthTokensBody, createUser, newAddress, person } from "./support/factories";
import { api, apiWith, jsonOf, problemOf } from "./support/http";
import { mailboxPerTest } from "./support/mailbox";
import {
  addPasskey,
  type LoginOptions,
  loginOptions,
  PASSKEY_PATHS,
  passkeySignIn,
} from "./support/passkeys";
import { claimsOf } from "./support/tokens";
import { newSigningKey, SoftAuthenticator, TEST_RP_ID } from "./support/webauthn";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const mailbox = mailboxPerTest();

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function expectRefused(res: Response): Promise<void> {
  const problem = await problemOf(res, 401);
  expect(problem.code).toBe("invalid_passkey");
  expect(res.headers.get("www-authenticate")).toBeNull();
}

/** A person with a passkey; `authenticator` options reach the software authenticator. */
async function personWithPasskey(options: Parameters<typeof SoftAuthenticator.create>[0] = {}) {
  const someone = await person({ firstName: "Ada" });
  const { passkey, authenticator } = await addPasskey(someone.api, {
    authenticator: await SoftAuthenticator.create(options),
  });
  return { ...someone, passkey, authenticator };
}

const verify = (challenge_id: string, response: unknown) =>
  api("POST", PASSKEY_PATHS.loginVerify, { body: { challenge_id, response } });

describe("passkey sign-in: happy", () => {
  it("discoverable (no email): empty allowCredentials, the browser picks; a token pair like POST /login", async () => {
    const ada = await personWithPasskey();
    const res = await api("POST", PASSKEY_PATHS.loginOptions);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { challenge_id, options } = await jsonOf<LoginOptions>(res, 200);
    expect(options).toMatchObject({
      rpId: TEST_RP_ID,
      allowCredentials: [],
      userVerification: "required",
      timeout: 300_000,
    });
    const before = Math.floor(Date.now() / 1000);
    const signedIn = await verify(challenge_id, await ada.authenticator.assert(options));
    expect(signedIn.headers.get("cache-control")).toBe("no-store");
    const tokens = await jsonOf<AuthTokensBody>(signedIn, 200);
    expect(tokens).toMatchObject({ token_type: "Bearer", user: { id: ada.user.id, email: ada.email } });
    expect(tokens.refresh_token).toBeTruthy();

    // A device-bound passkey: hardware-secured key, and two factors at once.
    const claims = claimsOf(tokens.access_token);
    expect(claims.amr).toEqual(["hwk", "mfa"]);
    expect(claims.sub).toBe(ada.user.id);
    expect(claims.auth_time as number).toBeGreaterThanOrEqual(before);
    await jsonOf(await api("GET", "/api/v1/users/me", { token: tokens.access_token }), 200);

    // The counterless passkey stays at 0 and records its use.
    const row = await db
      .select()
      .from(passkeyCredentials)
      .where(eq(passkeyCredentials.id, ada.passkey.id))
      .get();
    expect(row?.counter).toBe(0);
    expect(row?.lastUsedAt).not.toBeNull();
  });

  it("an account with an authenticator app: the password stops at MFA offering the passkey; the passkey signs in alone", async () => {
    const ada = await personWithPasskey();
    await db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, ada.user.id));
    const { secret } = await jsonOf<{ secret: string }>(
      await ada.api.post("/api/v1/auth/mfa/totp/enroll"),
      200,
    );
    const key = decodeBase32IgnorePadding(secret);
    await jsonOf(
      await ada.api.post("/api/v1/auth/mfa/totp/confirm", {
        body: { code: totpCode(key, totpStep(Date.now())) },
      }),
      200,
    );
    const status = await jsonOf<{ passkeys: number }>(await ada.api.get("/api/v1/auth/mfa"), 200);
    expect(status.passkeys).toBe(1);

    const step = await jsonOf<{ mfa_required: boolean; methods: string[] }>(
      await api("POST", "/api/v1/auth/login", { body: { email: ada.email, password: ada.password } }),
      200,
    );
    expect(step).toMatchObject({ mfa_required: true, methods: ["totp", "recovery_code", "passkey"] });
    const tokens = await jsonOf<AuthTokensBody>(await passkeySignIn(ada.authenticator), 200);
    expect(claimsOf(tokens.access_token).amr).toEqual(["hwk", "mfa"]);
  });

  it("a synced passkey signs in with amr [swk, mfa]", async () => {
    const ada = await personWithPasskey({ synced: true });
    const tokens = await jsonOf<AuthTokensBody>(await passkeySignIn(ada.authenticator), 200);
    expect(claimsOf(tokens.access_token).amr).toEqual(["swk", "mfa"]);
  });

  it("email-first: allowCredentials lists that account's passkeys with their transports", async () => {
    const ada = await personWithPasskey();
    const second = await addPasskey(ada.api);
    const { challenge_id, options } = await loginOptions(ada.email.toUpperCase());
    expect(options.allowCredentials).toEqual([
      { id: ada.authenticator.id, type: "public-key", transports: ["internal", "hybrid"] },
      { id: second.authenticator.id, type: "public-key", transports: ["internal", "hybrid"] },
    ]);
    const row = await db.select().from(passkeyChallenges).where(eq(passkeyChallenges.id, challenge_id)).get();
    expect(row).toMatchObject({ purpose: "login", userId: ada.user.id });
    const tokens = await jsonOf<AuthTokensBody>(
      await verify(challenge_id, await second.authenticator.assert(options)),
      200,
    );
    expect(tokens.user.id).toBe(ada.user.id);
  });

  it("an authenticator with a counter: each sign-in moves it forward", async () => {
    const ada = await personWithPasskey({ counter: 5 });
    for (const expected of [6, 7]) {
      await jsonOf(await passkeySignIn(ada.authenticator), 200);
      const row = await db
        .select()
        .from(passkeyCredentials)
        .where(eq(passkeyCredentials.id, ada.passkey.id))
        .get();
      expect(row?.counter).toBe(expected);
    }
  });

  it("goes through openSession's sign-in hooks: a new device is alerted", async () => {
    const ada = await personWithPasskey();
    const cf = (country: string, userAgent: string) => ({ country, userAgent });
    const signInFrom = async (origin: { country: string; userAgent: string }) => {
      const { challenge_id, options } = await loginOptions();
      const response = await ada.authenticator.assert(options);
      return exports.default.fetch(`http://localhost${PASSKEY_PATHS.loginVerify}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "cf-connecting-ip": "203.0.113.40",
          "user-agent": origin.userAgent,
        },
        body: JSON.stringify({ challenge_id, response }),
        cf: { country: origin.country, city: "Lisbon" },
      } as RequestInit);
    };
    const firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    const android =
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    // The first sign-in records the device (history starts); the same device again is not news.
    await jsonOf(await signInFrom(cf("PT", firefox)), 200);
    await jsonOf(await signInFrom(cf("PT", firefox)), 200);
    expect(mailbox.for(ada.email, "new_device")).toHaveLength(0);
    await jsonOf(await signInFrom(cf("PT", android)), 200);
    const alert = await mailbox.next(ada.email, "new_device");
    expect(alert.data).toMatchObject({ device: "Chrome on Android", location: "Lisbon, Portugal" });
  });
});

describe("login options never say whether an email has an account", () => {
  type Descriptor = { id: string; type: string; transports?: string[] };
  const shapeOf = (offered: Descriptor[] | undefined) =>
    (offered ?? []).map((credential) => ({
      type: credential.type,
      transports: credential.transports,
      idIsBase64url: /^[A-Za-z0-9_-]{22,86}$/.test(credential.id),
    }));

  it("an unknown address gets plausible ids, the same on every call, that no passkey answers", async () => {
    const unknown = newAddress("nobody");
    const first = await loginOptions(unknown);
    const second = await loginOptions(unknown);
    expect(first.options.allowCredentials?.length).toBeGreaterThanOrEqual(1);
    expect(second.options.allowCredentials).toEqual(first.options.allowCredentials);
    expect(second.options.challenge).not.toBe(first.options.challenge);
    for (const credential of first.options.allowCredentials ?? []) {
      expect(credential).toEqual({
        id: expect.any(String),
        type: "public-key",
        transports: ["hybrid", "internal"],
      });
    }
    // Another address, other ids.
    const other = await loginOptions(newAddress("nobody-else"));
    expect(other.options.allowCredentials).not.toEqual(first.options.allowCredentials);

    // An account without passkeys looks the same; an account with one looks like it too.
    const noPasskeys = await createUser();
    const known = await loginOptions(noPasskeys.email);
    expect(Object.keys(known)).toEqual(Object.keys(first));
    expect(Object.keys(known.options).sort()).toEqual(Object.keys(first.options).sort());
    expect(shapeOf(known.options.allowCredentials)[0]).toEqual(shapeOf(first.options.allowCredentials)[0]);
    const ada = await personWithPasskey();
    const real = await loginOptions(ada.email);
    expect(shapeOf(real.options.allowCredentials)).toEqual([
      { type: "public-key", transports: ["internal", "hybrid"], idIsBase64url: true },
    ]);

    // A decoy is refused like any credential the server does not know.
    const { challenge_id, options } = first;
    const decoy = options.allowCredentials?.[0]?.id as string;
    await expectRefused(
      await verify(challenge_id, await ada.authenticator.assert(options, { credentialId: decoy })),
    );
  });

  it("an address with no account answers in about the time a known one does", async () => {
    const ada = await personWithPasskey();
    const time = async (email: string) => {
      const started = performance.now();
      await loginOptions(email);
      return performance.now() - started;
    };
    // Warm up, then compare medians: the same queries and the same derivation run either way.
    await time(ada.email);
    await time(newAddress("warm"));
    const median = (values: number[]) =>
      values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time(ada.email));
      unknown.push(await time(newAddress("timing")));
    }
    expect(Math.abs(median(known) - median(unknown))).toBeLessThan(Math.max(median(known), 5));
  });
});

describe("passkey sign-in: refused with 401 invalid_passkey", () => {
  it("a challenge used once already (replay)", async () => {
    const ada = await personWithPasskey();
    const { challenge_id, options } = await loginOptions();
    const response = await ada.authenticator.assert(options);
    await jsonOf(await verify(challenge_id, response), 200);
    await expectRefused(await verify(challenge_id, response));
    // A new challenge id with the old signed response: the challenge inside does not match.
    const fresh = await loginOptions();
    await expectRefused(await verify(fresh.challenge_id, response));
  });

  it("a failed attempt spends the challenge too", async () => {
    const ada = await personWithPasskey();
    const { challenge_id, options } = await loginOptions();
    await expectRefused(
      await verify(challenge_id, await ada.authenticator.assert(options, { userVerified: false })),
    );
    await expectRefused(await verify(challenge_id, await ada.authenticator.assert(options)));
  });

  it("a challenge older than five minutes, or one that never was", async () => {
    const ada = await personWithPasskey();
    const { challenge_id, options } = await loginOptions();
    const response = await ada.authenticator.assert(options);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 5 * 60_000 + 1_000);
    await expectRefused(await verify(challenge_id, response));
    vi.useRealTimers();
    await expectRefused(await verify(crypto.randomUUID(), response));
  });

  it.each([
    ["another origin", { origin: "https://evil.example" }],
    ["another origin on the same host", { origin: "http://localhost:9999" }],
    ["another RP ID hash", { rpId: "evil.example" }],
    ["no user verification (UV flag absent)", { userVerified: false }],
    ["a create() answer instead of get()", { type: "webauthn.create" }],
    ["a challenge other than the one issued", { challenge: "c2lnbmVkIHNvbWV0aGluZyBlbHNl" }],
  ])("%s", async (_, tweaks) => {
    const ada = await personWithPasskey();
    await expectRefused(await passkeySignIn(ada.authenticator, { tweaks }));
    // The real thing still works: nothing was consumed but the challenge.
    await jsonOf(await passkeySignIn(ada.authenticator), 200);
  });

  it("a signature by another key", async () => {
    const ada = await personWithPasskey();
    const other = await newSigningKey();
    await expectRefused(await passkeySignIn(ada.authenticator, { tweaks: { signWith: other.privateKey } }));
  });

  it("a counter that went backwards, or did not move (a cloned authenticator)", async () => {
    const ada = await personWithPasskey({ counter: 10 });
    await jsonOf(await passkeySignIn(ada.authenticator), 200); // 11
    await expectRefused(await passkeySignIn(ada.authenticator, { tweaks: { counter: 3 } }));
    await expectRefused(await passkeySignIn(ada.authenticator, { tweaks: { counter: 11 } }));
    // An authenticator that reports 0 after counting: refused too (either counter non-zero).
    await expectRefused(await passkeySignIn(ada.authenticator, { tweaks: { counter: 0 } }));
    await jsonOf(await passkeySignIn(ada.authenticator, { tweaks: { counter: 12 } }), 200);
  });

  it("an unknown credential", async () => {
    const stranger = await SoftAuthenticator.create();
    stranger.userHandle = "bXlVc2VySGFuZGxlMzJCeXRlc0xvbmdSYW5kb21WYWx1ZQ";
    await expectRefused(await passkeySignIn(stranger));
  });

  it("a user handle that is not the owner's, or none in a discoverable sign-in", async () => {
    const ada = await personWithPasskey();
    const grace = await personWithPasskey();
    await expectRefused(
      await passkeySignIn(ada.authenticator, { tweaks: { userHandle: grace.authenticator.userHandle } }),
    );
    await expectRefused(await passkeySignIn(ada.authenticator, { tweaks: { userHandle: null } }));
    // Email-first: the user handle may be absent (the credential was named), and then it is fine.
    await jsonOf(
      await passkeySignIn(ada.authenticator, { email: ada.email, tweaks: { userHandle: null } }),
      200,
    );
  });

  it("a passkey the email-first options did not offer", async () => {
    const ada = await personWithPasskey();
    const grace = await personWithPasskey();
    // Options for Ada, answered by Grace's passkey: each is valid alone, not together.
    await expectRefused(await passkeySignIn(grace.authenticator, { email: ada.email }));
    await jsonOf(await passkeySignIn(grace.authenticator, { email: grace.email }), 200);
  });
});

describe("passkey sign-in: the account decides last", () => {
  it("a disabled account is refused with 403 account_disabled (said only to the passkey's holder)", async () => {
    const ada = await personWithPasskey();
    await db.update(users).set({ isActive: false }).where(eq(users.id, ada.user.id));
    const problem = await problemOf(await passkeySignIn(ada.authenticator), 403);
    expect(problem.code).toBe("account_disabled");
  });
});

describe("passkey sign-in: strict verification mode", () => {
  it("an unverified account gets no session (403 email_not_verified); a verified one signs in", async () => {
    const strict = { AUTH_EMAIL_VERIFICATION: "required" } as const;
    const ada = await personWithPasskey();
    const attempt = async () => {
      const { challenge_id, options } = await loginOptions();
      return apiWith(strict, "POST", PASSKEY_PATHS.loginVerify, {
        body: { challenge_id, response: await ada.authenticator.assert(options) },
      });
    };
    expect((await problemOf(await attempt(), 403)).code).toBe("email_not_verified");
    await db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, ada.user.id));
    await jsonOf(await attempt(), 200);
  });
});

describe("passkey sign-in: rate limits", () => {
  it("the options and verify routes carry the passkey_login policy", async () => {
    const options = await api("POST", PASSKEY_PATHS.loginOptions, { body: { email: newAddress("limits") } });
    expect(options.headers.get("ratelimit-policy")).toContain('"passkey_login"');
    const res = await api("POST", PASSKEY_PATHS.loginVerify, {
      body: { challenge_id: crypto.randomUUID(), response: {} },
    });
    expect(res.headers.get("ratelimit-policy")).toContain('"passkey_login"');
  });

  it("21 requests a minute from one IP are one too many", async () => {
    const ip = "198.51.100.77";
    let last: Response | undefined;
    for (let i = 0; i < 21; i++) last = await api("POST", PASSKEY_PATHS.loginOptions, { ip });
    const problem = await problemOf(last as Response, 429);
    expect(problem.code).toBe("rate_limited");
    expect(problem.violated_policies).toEqual(["passkey_login"]);
  });
});
