/**
 * Multi-factor sign-in with an authenticator app (TOTP) and recovery codes, through
 * HTTP: enrol, confirm, the MFA step of every first factor, replay, the try limits,
 * recovery codes, disabling with re-authentication, the claim rule, and the
 * organization policy `require_mfa`.
 */

import { env } from "cloudflare:workers";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { auditLogs, totpFactors } from "../src/db/schema";
import { totpCode, totpStep } from "../src/modules/auth/totp";
import {
  type AuthTokensBody,
  createUser,
  DEFAULT_PASSWORD,
  newAddress,
  person,
  signIn,
} from "./support/factories";
import { api, apiWith, as, fieldsOf, jsonOf, problemOf } from "./support/http";
import { deliver, mailboxPerTest } from "./support/mailbox";
import { addMember, createApiKey, createOrg } from "./support/orgs";
import { claimsOf } from "./support/tokens";

type MfaRequiredBody = { mfa_required: true; mfa_token: string; methods: string[]; expires_in: number };
type Enrollment = { secret: string; otpauth_url: string };

const db = () => getDb(env);
const mailbox = mailboxPerTest();

afterEach(() => {
  vi.useRealTimers();
});

/** The code an authenticator app holding `secret` shows `stepsAhead` steps from now. */
function codeOf(secret: string, stepsAhead = 0): string {
  return totpCode(decodeBase32IgnorePadding(secret), totpStep(Date.now()) + stepsAhead);
}

const login = (email: string, ip?: string) =>
  api("POST", "/api/v1/auth/login", { body: { email, password: DEFAULT_PASSWORD }, ...(ip ? { ip } : {}) });

const verify = (body: Record<string, unknown>, ip?: string) =>
  api("POST", "/api/v1/auth/mfa/verify", { body, ...(ip ? { ip } : {}) });

/** A verified account with a confirmed authenticator app: its secret and recovery codes. */
async function withAuthenticator() {
  const account = await person({ email: newAddress("mfa"), emailVerifiedAt: new Date() });
  const enrollment = await jsonOf<Enrollment>(await account.api.post("/api/v1/auth/mfa/totp/enroll"), 200);
  // Kept, so a test can replay this very code: "the current step's code" may be the next one by then.
  const confirmedCode = codeOf(enrollment.secret);
  const { recovery_codes } = await jsonOf<{ recovery_codes: string[] }>(
    await account.api.post("/api/v1/auth/mfa/totp/confirm", { body: { code: confirmedCode } }),
    200,
  );
  return { ...account, secret: enrollment.secret, recoveryCodes: recovery_codes, confirmedCode };
}

async function mfaTokenFor(email: string, ip?: string): Promise<MfaRequiredBody> {
  return jsonOf<MfaRequiredBody>(await login(email, ip), 200);
}

describe("enrolling an authenticator app", () => {
  it("enrols, confirms with a first code, hands out ten recovery codes once, audits and emails", async () => {
    const ada = await person({ email: newAddress("ada"), emailVerifiedAt: new Date() });
    const before = await jsonOf<Record<string, unknown>>(await ada.api.get("/api/v1/auth/mfa"), 200);
    expect(before).toEqual({
      totp: { enabled: false, created_at: null },
      recovery_codes_remaining: 0,
      passkeys: 0,
    });

    const res = await ada.api.post("/api/v1/auth/mfa/totp/enroll");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const enrollment = await jsonOf<Enrollment>(res, 200);
    expect(enrollment.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrollment.otpauth_url);
    expect(uri.searchParams.get("secret")).toBe(enrollment.secret);
    expect(uri.searchParams.get("issuer")).toBe("Edge API Platform");
    expect(decodeURIComponent(uri.pathname)).toContain(ada.email);

    // Pending: sign-in still needs one factor.
    expect(await jsonOf<AuthTokensBody>(await login(ada.email), 200)).toHaveProperty("access_token");
    // The secret is stored encrypted, never as the base32 the app was given.
    const row = await db().select().from(totpFactors).where(eq(totpFactors.userId, ada.user.id)).get();
    expect(row?.secretCiphertext).toMatch(/^v1\./);
    expect(row?.secretCiphertext).not.toContain(enrollment.secret);

    const wrong = await problemOf(
      await ada.api.post("/api/v1/auth/mfa/totp/confirm", { body: { code: codeOf(enrollment.secret, 5) } }),
      400,
    );
    expect(wrong.code).toBe("invalid_mfa_code");

    const confirmed = await jsonOf<{ recovery_codes: string[] }>(
      await ada.api.post("/api/v1/auth/mfa/totp/confirm", { body: { code: codeOf(enrollment.secret) } }),
      200,
    );
    expect(confirmed.recovery_codes).toHaveLength(10);
    expect(new Set(confirmed.recovery_codes).size).toBe(10);
    for (const code of confirmed.recovery_codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);

    const after = await jsonOf<{
      totp: { enabled: boolean; created_at: string };
      recovery_codes_remaining: number;
    }>(await ada.api.get("/api/v1/auth/mfa"), 200);
    expect(after.totp.enabled).toBe(true);
    expect(after.recovery_codes_remaining).toBe(10);

    const audit = await db()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.action, "auth.mfa_enabled"), eq(auditLogs.targetId, ada.user.id)));
    expect(audit).toHaveLength(1);
    const email = await deliver(await mailbox.next(ada.email, "sign_in_method_changed"));
    expect(email.subject).toBe("Two-step sign-in is on for your Edge API Platform account");

    // A second enrolment is refused while one is on.
    expect((await problemOf(await ada.api.post("/api/v1/auth/mfa/totp/enroll"), 409)).code).toBe(
      "mfa_already_enabled",
    );
  });

  it("needs a verified address, a recent sign-in, a person and the server's encryption key", async () => {
    const unverified = await person({ email: newAddress("unverified") });
    expect((await problemOf(await unverified.api.post("/api/v1/auth/mfa/totp/enroll"), 403)).code).toBe(
      "email_not_verified",
    );

    const verified = await createUser({ email: newAddress("stale"), emailVerifiedAt: new Date() });
    const stale = await signIn(verified.user, {}, { at: Date.now() - 11 * 60_000 });
    const refused = await problemOf(await as(stale.accessToken).post("/api/v1/auth/mfa/totp/enroll"), 403);
    expect(refused.code).toBe("reauthentication_required");
    // The password is a proof too.
    const withPassword = await as(stale.accessToken).post("/api/v1/auth/mfa/totp/enroll", {
      body: { current_password: DEFAULT_PASSWORD },
    });
    expect(withPassword.status).toBe(200);

    const owner = await createUser();
    const org = await createOrg(owner.user);
    const { secret } = await createApiKey(org, { scopes: ["org:read"] });
    expect((await as(secret).post("/api/v1/auth/mfa/totp/enroll")).status).toBe(403);

    const keyless = await person({ email: newAddress("keyless"), emailVerifiedAt: new Date() });
    const unavailable = await apiWith(
      { MFA_ENCRYPTION_KEY: undefined },
      "POST",
      "/api/v1/auth/mfa/totp/enroll",
      {
        token: keyless.token,
      },
    );
    expect((await problemOf(unavailable, 503)).code).toBe("mfa_not_configured");
  });

  it("confirming without an enrolment is a 409, and malformed codes name the field", async () => {
    const ada = await person({ email: newAddress("ada"), emailVerifiedAt: new Date() });
    const none = await problemOf(
      await ada.api.post("/api/v1/auth/mfa/totp/confirm", { body: { code: "123456" } }),
      409,
    );
    expect(none.code).toBe("totp_not_enrolled");
    for (const code of ["12345", "abcdef", "1".repeat(5000)]) {
      const bad = await problemOf(
        await ada.api.post("/api/v1/auth/mfa/totp/confirm", { body: { code } }),
        400,
      );
      expect(fieldsOf(bad)).toContain("/code");
    }
  });
});

describe("signing in with a second factor", () => {
  it("a password sign-in stops at the MFA step; a code finishes it with amr pwd+otp+mfa", async () => {
    const ada = await withAuthenticator();
    const res = await login(ada.email);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const step = await jsonOf<MfaRequiredBody>(res, 200);
    expect(step).toEqual({
      mfa_required: true,
      mfa_token: expect.stringMatching(/^mfa_/),
      methods: ["totp", "recovery_code"],
      expires_in: 300,
    });
    expect(step).not.toHaveProperty("access_token");

    const tokens = await jsonOf<AuthTokensBody>(
      await verify({ mfa_token: step.mfa_token, code: codeOf(ada.secret, 1) }),
      200,
    );
    expect(claimsOf(tokens.access_token).amr).toEqual(["pwd", "otp", "mfa"]);
    expect((await as(tokens.access_token).get("/api/v1/users/me")).status).toBe(200);

    // The token was spent by its success.
    const again = await problemOf(
      await verify({ mfa_token: step.mfa_token, code: codeOf(ada.secret, 1) }),
      401,
    );
    expect(again.code).toBe("invalid_mfa_token");
  });

  it("stops at the MFA step whichever identifier the password came with, and only once the app is confirmed", async () => {
    const ada = await withAuthenticator();
    const byUsername = await jsonOf<MfaRequiredBody>(
      await api("POST", "/api/v1/auth/login", {
        body: { username: ada.user.username?.toUpperCase(), password: DEFAULT_PASSWORD },
      }),
      200,
    );
    expect(byUsername).toMatchObject({ mfa_required: true, methods: ["totp", "recovery_code"] });
    expect(byUsername).not.toHaveProperty("access_token");

    // An enrolment never confirmed is not a second factor: the password alone signs in.
    const alan = await person({ email: newAddress("alan"), emailVerifiedAt: new Date() });
    expect((await alan.api.post("/api/v1/auth/mfa/totp/enroll")).status).toBe(200);
    const signedIn = await jsonOf<AuthTokensBody>(await login(alan.email), 200);
    expect(claimsOf(signedIn.access_token).amr).toEqual(["pwd"]);
  });

  it("a code is accepted once: the one that confirmed the app, or that signed in, is refused again", async () => {
    const ada = await withAuthenticator();
    const first = await mfaTokenFor(ada.email);
    const replayed = await problemOf(
      await verify({ mfa_token: first.mfa_token, code: ada.confirmedCode }),
      401,
    );
    expect(replayed.code).toBe("invalid_mfa_code");

    const next = codeOf(ada.secret, 1);
    expect((await verify({ mfa_token: first.mfa_token, code: next })).status).toBe(200);
    const second = await mfaTokenFor(ada.email);
    expect((await problemOf(await verify({ mfa_token: second.mfa_token, code: next }), 401)).code).toBe(
      "invalid_mfa_code",
    );
  });

  it("two right answers at once: one session, never two", async () => {
    const ada = await withAuthenticator();
    const step = await mfaTokenFor(ada.email);
    const code = codeOf(ada.secret, 1);
    const answers = await Promise.all([
      verify({ mfa_token: step.mfa_token, code }),
      verify({ mfa_token: step.mfa_token, code }),
    ]);
    expect(answers.map((res) => res.status).sort()).toEqual([200, 401]);
  });

  it("five wrong codes spend the mfa_token and lock this client out of the account", async () => {
    const ada = await withAuthenticator();
    const ip = "203.0.113.81";
    const step = await mfaTokenFor(ada.email, ip);
    for (let i = 0; i < 5; i++) {
      const wrong = await problemOf(await verify({ mfa_token: step.mfa_token, code: "000000" }, ip), 401);
      expect(wrong.code).toBe("invalid_mfa_code");
    }
    // The token had five tries, even for the right code now.
    const spent = await verify({ mfa_token: step.mfa_token, code: codeOf(ada.secret, 1) }, ip);
    expect((await problemOf(spent, 401)).code).toBe("invalid_mfa_token");
    // Wrong codes count like wrong passwords: a new mfa_token from this client is refused too.
    const locked = await login(ada.email, ip);
    expect((await problemOf(locked, 429)).code).toBe("too_many_attempts");
    expect(locked.headers.get("retry-after")).toMatch(/^\d+$/);
    // The owner, from another client, is not locked out.
    const elsewhere = await mfaTokenFor(ada.email, "203.0.113.82");
    const ok = await verify({ mfa_token: elsewhere.mfa_token, code: codeOf(ada.secret, 1) }, "203.0.113.82");
    expect(ok.status).toBe(200);
  });

  it("an mfa_token lives five minutes", async () => {
    const ada = await withAuthenticator();
    const step = await mfaTokenFor(ada.email);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 5 * 60_000 + 1_000);
    const late = await verify({ mfa_token: step.mfa_token, code: codeOf(ada.secret, 1) });
    expect((await problemOf(late, 401)).code).toBe("invalid_mfa_token");
  });

  it("a magic-code sign-in stops at the MFA step too", async () => {
    const ada = await withAuthenticator();
    const requested = await apiWith(
      { MAGIC_LINK_DEBUG_ECHO_TOKEN: "true" },
      "POST",
      "/api/v1/auth/magic/request",
      {
        body: { email: ada.email },
      },
    );
    const { debug_token } = await jsonOf<{ debug_token: string }>(requested, 202);
    const step = await jsonOf<MfaRequiredBody>(
      await api("POST", "/api/v1/auth/magic/verify", { body: { email: ada.email, code: debug_token } }),
      200,
    );
    expect(step.mfa_required).toBe(true);
    const tokens = await jsonOf<AuthTokensBody>(
      await verify({ mfa_token: step.mfa_token, code: codeOf(ada.secret, 1) }),
      200,
    );
    expect(claimsOf(tokens.access_token).amr).toEqual(["email", "otp", "mfa"]);
  });

  it("refuses bodies that are not one answer, naming the field", async () => {
    const both = await problemOf(
      await verify({ mfa_token: "mfa_x", code: "123456", recovery_code: "abcde-fghij" }),
      400,
    );
    expect(fieldsOf(both).length).toBeGreaterThan(0);
    const neither = await problemOf(await verify({ mfa_token: "mfa_x" }), 400);
    expect(fieldsOf(neither)).toContain("/code");
    const huge = await problemOf(await verify({ mfa_token: "m".repeat(10_000), code: "123456" }), 400);
    expect(fieldsOf(huge)).toContain("/mfa_token");
    const unknown = await problemOf(await verify({ mfa_token: "mfa_unknown", code: "123456" }), 401);
    expect(unknown.code).toBe("invalid_mfa_token");
  });
});

describe("recovery codes", () => {
  it("each works once, is audited and emailed, and a new set retires the old one", async () => {
    const ada = await withAuthenticator();
    const [first, second] = ada.recoveryCodes as [string, string];

    const step = await mfaTokenFor(ada.email);
    // Typed by a person: upper case and spaces instead of the dash.
    const typed = first.toUpperCase().replace("-", " ");
    const tokens = await jsonOf<AuthTokensBody>(
      await verify({ mfa_token: step.mfa_token, recovery_code: typed }),
      200,
    );
    expect(claimsOf(tokens.access_token).amr).toEqual(["pwd", "otp", "mfa"]);
    const email = await deliver(await mailbox.next(ada.email, "sign_in_method_changed"));
    expect(email.subject).toContain("recovery code was used");
    const status = await jsonOf<{ recovery_codes_remaining: number }>(
      await ada.api.get("/api/v1/auth/mfa"),
      200,
    );
    expect(status.recovery_codes_remaining).toBe(9);

    const reuse = await mfaTokenFor(ada.email);
    expect(
      (await problemOf(await verify({ mfa_token: reuse.mfa_token, recovery_code: first }), 401)).code,
    ).toBe("invalid_mfa_code");

    const renewed = await jsonOf<{ recovery_codes: string[] }>(
      await ada.api.post("/api/v1/auth/mfa/recovery-codes"),
      200,
    );
    expect(renewed.recovery_codes).toHaveLength(10);
    const old = await mfaTokenFor(ada.email);
    expect((await verify({ mfa_token: old.mfa_token, recovery_code: second })).status).toBe(401);
    expect(
      (await verify({ mfa_token: old.mfa_token, recovery_code: renewed.recovery_codes[0] })).status,
    ).toBe(200);
  });

  it("another account's recovery code is no answer", async () => {
    const ada = await withAuthenticator();
    const eve = await withAuthenticator();
    const step = await mfaTokenFor(ada.email);
    const res = await verify({ mfa_token: step.mfa_token, recovery_code: eve.recoveryCodes[0] });
    expect((await problemOf(res, 401)).code).toBe("invalid_mfa_code");
  });
});

describe("turning the app off", () => {
  it("needs re-authentication; an app code is a proof; sign-in then needs one factor", async () => {
    const ada = await withAuthenticator();
    const stale = await signIn(ada.user, {}, { at: Date.now() - 11 * 60_000, amr: ["pwd", "otp", "mfa"] });
    const refused = await problemOf(await as(stale.accessToken).delete("/api/v1/auth/mfa/totp"), 403);
    expect(refused.code).toBe("reauthentication_required");
    expect(refused.accepted_proofs).toEqual(["current_password", "mfa_code", "sign_in"]);

    const wrong = await problemOf(
      await as(stale.accessToken).delete("/api/v1/auth/mfa/totp", { body: { mfa_code: "000000" } }),
      403,
    );
    expect(fieldsOf(wrong)).toContain("/mfa_code");

    const res = await as(stale.accessToken).delete("/api/v1/auth/mfa/totp", {
      body: { mfa_code: codeOf(ada.secret, 1) },
    });
    expect(res.status).toBe(204);
    expect((await deliver(await mailbox.next(ada.email, "sign_in_method_changed"))).subject).toContain(
      "turned off",
    );
    expect(await jsonOf<AuthTokensBody>(await login(ada.email), 200)).toHaveProperty("access_token");
    const off = await problemOf(await ada.api.delete("/api/v1/auth/mfa/totp"), 409);
    expect(off.code).toBe("mfa_not_enabled");
  });

  it("a recovery code is a re-authentication proof for deleting the account", async () => {
    const ada = await withAuthenticator();
    const stale = await signIn(ada.user, {}, { at: Date.now() - 11 * 60_000, amr: ["pwd", "otp", "mfa"] });
    const res = await as(stale.accessToken).delete("/api/v1/users/me", {
      body: { mfa_code: ada.recoveryCodes[3] },
    });
    expect(res.status).toBe(204);
  });
});

describe("the claim rule", () => {
  it("a second factor on a never-verified account is dropped when the address's owner proves it", async () => {
    const email = newAddress("squatted");
    const squatter = await createUser({ email });
    // Enrolment needs a verified address today; a factor from before that rule is planted directly.
    await db().insert(totpFactors).values({
      userId: squatter.user.id,
      secretCiphertext: "v1.planted.by-the-squatter",
      confirmedAt: new Date(),
    });
    const requested = await apiWith(
      { MAGIC_LINK_DEBUG_ECHO_TOKEN: "true" },
      "POST",
      "/api/v1/auth/magic/request",
      {
        body: { email },
      },
    );
    const { debug_token } = await jsonOf<{ debug_token: string }>(requested, 202);
    const owner = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/magic/verify", { body: { email, code: debug_token } }),
      200,
    );
    expect(owner.access_token).toBeTruthy();
    expect(await db().select().from(totpFactors).where(eq(totpFactors.userId, squatter.user.id))).toEqual([]);
  });
});

describe("organizations that require MFA", () => {
  async function orgWithPolicy() {
    const owner = await withAuthenticator();
    const org = await createOrg(owner.user);
    const step = await mfaTokenFor(owner.email);
    const ownerTokens = await jsonOf<AuthTokensBody>(
      await verify({ mfa_token: step.mfa_token, code: codeOf(owner.secret, 1) }),
      200,
    );
    return { owner, org, ownerApi: as(ownerTokens.access_token) };
  }

  it("only an owner who signed in with a second factor can turn it on", async () => {
    const owner = await withAuthenticator();
    const org = await createOrg(owner.user);
    // The owner's own session (person()) was a password sign-in.
    const refused = await problemOf(
      await owner.api.patch(`/api/v1/orgs/${org.id}`, { body: { require_mfa: true } }),
      403,
    );
    expect(refused.code).toBe("mfa_required");

    const admin = await person();
    await addMember(org, admin.user, "admin");
    const notOwner = await admin.api.patch(`/api/v1/orgs/${org.id}`, { body: { require_mfa: true } });
    expect(notOwner.status).toBe(403);

    const { ownerApi } = await orgWithPolicy();
    expect(ownerApi).toBeTruthy();
  });

  it("members without a second factor get 403 mfa_required; with one, and API keys, get in", async () => {
    const { owner, org, ownerApi } = await orgWithPolicy();
    const turnedOn = await jsonOf<{ require_mfa: boolean }>(
      await ownerApi.patch(`/api/v1/orgs/${org.id}`, { body: { require_mfa: true } }),
      200,
    );
    expect(turnedOn.require_mfa).toBe(true);
    const audit = await db()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.action, "org.require_mfa_changed"), eq(auditLogs.targetId, org.id)));
    expect(audit).toHaveLength(1);

    const member = await person();
    await addMember(org, member.user, "member");
    const blocked = await problemOf(await member.api.get(`/api/v1/orgs/${org.id}`), 403);
    expect(blocked.code).toBe("mfa_required");
    // Their other organizations are not affected.
    const own = await createOrg(member.user);
    expect((await member.api.get(`/api/v1/orgs/${own.id}`)).status).toBe(200);

    // The owner's password-only session is refused too.
    expect((await problemOf(await owner.api.get(`/api/v1/orgs/${org.id}`), 403)).code).toBe("mfa_required");
    expect((await ownerApi.get(`/api/v1/orgs/${org.id}`)).status).toBe(200);

    const { secret } = await createApiKey(org, { scopes: ["org:read"] });
    expect((await as(secret).get(`/api/v1/orgs/${org.id}`)).status).toBe(200);

    // Off again: everyone is back.
    await jsonOf(await ownerApi.patch(`/api/v1/orgs/${org.id}`, { body: { require_mfa: false } }), 200);
    expect((await member.api.get(`/api/v1/orgs/${org.id}`)).status).toBe(200);
  });
});
