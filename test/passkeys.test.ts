/**
 * Passkeys, added and managed: registration options and verify with a software
 * authenticator holding a P-256 key (test/support/webauthn.ts), the list, rename and
 * removal, and every refusal of those routes. Signing in with a passkey is
 * passkeys.sign-in.test.ts; the claim rule, erasure, configuration and hostile input
 * are passkeys.security.test.ts.
 */

import { env } from "cloudflare:workers";
import type { RegistrationResponseJSON } from "@simplewebauthn/server";
import { decodeAttestationObject, isoBase64URL, isoCBOR } from "@simplewebauthn/server/helpers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { insertChunked } from "../src/db/batch";
import { getDb } from "../src/db/client";
import { passkeyChallenges, passkeyCredentials, users } from "../src/db/schema";
import type { PasskeyDto } from "../src/modules/auth/passkeys/passkeys.schemas";
import { auditRowsOf } from "./support/audit";
import { createUser, person, signIn } from "./support/factories";
import { api, as, jsonOf, type Page, problemOf } from "./support/http";
import { deliver, mailboxPerTest } from "./support/mailbox";
import { apiKeyHeaders, createApiKey, createOrg } from "./support/orgs";
import { addPasskey, PASSKEY_PATHS, passkeySignIn, registrationOptions } from "./support/passkeys";
import { securitySuite } from "./support/security";
import { SoftAuthenticator, TEST_ORIGIN, TEST_RP_ID } from "./support/webauthn";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const mailbox = mailboxPerTest();
const ELEVEN_MINUTES = 11 * 60_000;
const SAFARI_MAC =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** `into`'s attestation object carrying `from`'s attestation statement (a forged self-attestation). */
function swapAttStmt(into: RegistrationResponseJSON, from: RegistrationResponseJSON): string {
  const decode = (json: RegistrationResponseJSON) =>
    decodeAttestationObject(isoBase64URL.toBuffer(json.response.attestationObject));
  const target = decode(into) as unknown as Map<string, never>;
  target.set("attStmt", decode(from).get("attStmt") as never);
  return isoBase64URL.fromBuffer(isoCBOR.encode(target));
}

async function passkeysOfAccount(userId: string) {
  return db.select().from(passkeyCredentials).where(eq(passkeyCredentials.userId, userId)).all();
}

/** A person whose session was opened 11 minutes ago: outside REAUTH_WINDOW. */
async function staleSession(overrides: Parameters<typeof createUser>[0] = {}) {
  const account = await createUser(overrides);
  const tokens = await signIn(account.user, {}, { at: Date.now() - ELEVEN_MINUTES });
  return { ...account, api: as(tokens.accessToken) };
}

describe("registration options", () => {
  it("ask for a discoverable, user-verified passkey without attestation, under an opaque user handle", async () => {
    const ada = await person({ firstName: "Ada", lastName: "Lovelace" });
    const res = await ada.api.post(PASSKEY_PATHS.registerOptions);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const options = await jsonOf<Awaited<ReturnType<typeof registrationOptions>>>(res, 200);
    expect(options.rp).toEqual({ id: TEST_RP_ID, name: "Edge API Platform" });
    expect(options.user.name).toBe(ada.email);
    expect(options.user.displayName).toBe("Ada Lovelace");
    // The handle is 32 random bytes, not the email nor the account id, and stays the same.
    expect(options.user.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(options.user.id).not.toContain(ada.user.id);
    expect(atob(`${options.user.id.replaceAll("-", "+").replaceAll("_", "/")}=`)).not.toContain(ada.email);
    expect((await registrationOptions(ada.api)).user.id).toBe(options.user.id);
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: "preferred",
      userVerification: "required",
    });
    expect(options.attestation).toBe("none");
    expect(options.pubKeyCredParams.map((param) => param.alg)).toEqual([-8, -7, -257]);
    expect(options.timeout).toBe(300_000);
    expect(options.excludeCredentials).toEqual([]);
    expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("exclude the passkeys the account has, and a body of just the proof is fine", async () => {
    const ada = await person();
    const { passkey, authenticator } = await addPasskey(ada.api);
    const options = await registrationOptions(ada.api, { current_password: ada.password });
    expect(options.excludeCredentials).toEqual([
      { id: authenticator.id, type: "public-key", transports: passkey.transports },
    ]);
    // Another account gets another handle.
    const grace = await person();
    expect((await registrationOptions(grace.api)).user.id).not.toBe(options.user.id);
  });

  it("need a recent sign-in, or the current password", async () => {
    const stale = await staleSession();
    const refused = await problemOf(await stale.api.post(PASSKEY_PATHS.registerOptions), 403);
    expect(refused.code).toBe("reauthentication_required");
    expect(refused.accepted_proofs).toEqual(["current_password", "sign_in"]);
    const wrong = await problemOf(
      await stale.api.post(PASSKEY_PATHS.registerOptions, { body: { current_password: "not it at all" } }),
      403,
    );
    expect(wrong.errors?.[0]?.pointer).toBe("/current_password");
    await registrationOptions(stale.api, { current_password: stale.password });
  });

  it("refuse an API key", async () => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    const { secret } = await createApiKey(org, { createdBy: owner.user, scopes: ["*"] });
    for (const path of [PASSKEY_PATHS.registerOptions, PASSKEY_PATHS.registerVerify]) {
      const res = await as(secret).post(path, { body: {} });
      expect(res.status, path).toBe(403);
    }
    const listed = await problemOf(
      await api("GET", PASSKEY_PATHS.mine, { headers: apiKeyHeaders(secret) }),
      403,
    );
    expect(listed.code).toBe("forbidden");
  });
});

describe("registration verify", () => {
  it("stores the passkey: 201 with Location, the audit row and the security email", async () => {
    const ada = await person({ firstName: "Ada" }, { userAgent: SAFARI_MAC });
    const requestId = `passkey-add-${crypto.randomUUID()}`;
    const client = as(ada.token, { headers: { "user-agent": SAFARI_MAC } });
    const { passkey, location } = await addPasskey(client, { headers: { "x-request-id": requestId } });
    expect(passkey).toMatchObject({
      name: "Passkey on Safari on macOS",
      last_used_at: null,
      transports: ["internal", "hybrid"],
      backed_up: false,
    });
    expect(location).toBe(`/api/v1/users/me/passkeys/${passkey.id}`);
    expect(await jsonOf<PasskeyDto>(await ada.api.get(location as string), 200)).toEqual(passkey);

    const rows = await auditRowsOf(requestId);
    expect(rows.map((row) => row.action)).toEqual(["auth.passkey_added"]);
    expect(rows[0]).toMatchObject({ actorType: "user", actorId: ada.user.id, targetId: ada.user.id });
    expect(rows[0]?.after).toMatchObject({ passkey_id: passkey.id, name: passkey.name, backed_up: false });

    const email = await mailbox.next(ada.email, "passkey_changed");
    expect(email.data).toMatchObject({
      name: "Ada",
      event: "passkey_added",
      passkey_name: "Passkey on Safari on macOS",
      device: "Safari on macOS",
    });
    const sent = await deliver(email);
    expect(sent.subject).toBe("A passkey was added to your Edge API Platform account");
    expect(sent.text).toContain("Passkey on Safari on macOS");
    expect(sent.text).toContain("remove that passkey");
  });

  it("keeps the name given, and records a synced passkey as backed up", async () => {
    const ada = await person();
    const synced = await SoftAuthenticator.create({ synced: true });
    const { passkey } = await addPasskey(ada.api, { authenticator: synced, name: "  iCloud Keychain  " });
    expect(passkey).toMatchObject({ name: "iCloud Keychain", backed_up: true });
    const row = await db.select().from(passkeyCredentials).where(eq(passkeyCredentials.id, passkey.id)).get();
    expect(row).toMatchObject({ deviceType: "multiDevice", backedUp: true, counter: 0, userId: ada.user.id });
    expect(row?.aaguid).toBe("00000000-0000-0000-0000-000000000000");
  });

  it("accepts packed self-attestation, which browsers keep under attestation none, and it signs in", async () => {
    const ada = await person();
    const authenticator = await SoftAuthenticator.create();
    const creation = await registrationOptions(ada.api);
    const response = await authenticator.register(creation, { attestation: "packed-self" });
    const passkey = await jsonOf<PasskeyDto>(
      await ada.api.post(PASSKEY_PATHS.registerVerify, { body: { response } }),
      201,
    );
    expect(passkey.id).toBeTruthy();
    expect((await passkeySignIn(authenticator)).status).toBe(200);
  });

  it("refuses a packed self-attestation signed by another key (400 passkey_registration_failed)", async () => {
    const ada = await person();
    const authenticator = await SoftAuthenticator.create();
    const impostor = await SoftAuthenticator.create();
    const creation = await registrationOptions(ada.api);
    const genuine = await authenticator.register(creation, { attestation: "packed-self" });
    const forged = await impostor.register(creation, { attestation: "packed-self" });
    // The impostor's statement (signed by its own key) over the authenticator's credential.
    const response = {
      ...genuine,
      response: { ...genuine.response, attestationObject: swapAttStmt(genuine, forged) },
    };
    const res = await ada.api.post(PASSKEY_PATHS.registerVerify, { body: { response } });
    expect((await problemOf(res, 400)).code).toBe("passkey_registration_failed");
    expect(await passkeysOfAccount(ada.user.id)).toEqual([]);
  });

  it.each([
    [
      "tpm",
      new Map<string, unknown>([
        ["ver", "2.0"],
        ["alg", -257],
        ["x5c", [new Uint8Array(8)]],
      ]),
    ],
    [
      "android-key",
      new Map<string, unknown>([
        ["alg", -7],
        ["x5c", [new Uint8Array(8)]],
      ]),
    ],
    ["apple", new Map<string, unknown>([["x5c", [new Uint8Array(8)]]])],
    ["fido-u2f", new Map<string, unknown>([["x5c", [new Uint8Array(8)]]])],
    [
      "packed",
      new Map<string, unknown>([
        ["alg", -7],
        ["sig", new Uint8Array(8)],
        ["x5c", [new Uint8Array(8)]],
      ]),
    ],
  ])(
    "refuses attestation format %s with certificates: 400 naming the field, before the challenge is spent",
    async (fmt, attStmt) => {
      const ada = await person();
      const authenticator = await SoftAuthenticator.create();
      const creation = await registrationOptions(ada.api);
      const response = await authenticator.register(creation, {
        attestation: { fmt, attStmt: attStmt as Map<string, never> },
      });
      const res = await ada.api.post(PASSKEY_PATHS.registerVerify, { body: { response } });
      const problem = await problemOf(res, 400);
      expect(problem.code).toBe("validation_failed");
      expect(problem.errors).toEqual([
        { pointer: "/response/response/attestationObject", detail: expect.stringContaining(`"${fmt}"`) },
      ]);
      // The challenge is still open: the same ceremony answered with attestation none succeeds.
      const retry = await authenticator.register(creation);
      expect((await ada.api.post(PASSKEY_PATHS.registerVerify, { body: { response: retry } })).status).toBe(
        201,
      );
    },
  );

  it("refuses a credential registered already, to this account or another (409)", async () => {
    const ada = await person();
    const { authenticator } = await addPasskey(ada.api);
    const again = await ada.api.post(PASSKEY_PATHS.registerVerify, {
      body: { response: await authenticator.register(await registrationOptions(ada.api)) },
    });
    expect((await problemOf(again, 409)).code).toBe("passkey_already_registered");

    const grace = await person();
    const elsewhere = await grace.api.post(PASSKEY_PATHS.registerVerify, {
      body: { response: await authenticator.register(await registrationOptions(grace.api)) },
    });
    expect((await problemOf(elsewhere, 409)).code).toBe("passkey_already_registered");
    const rows = await db
      .select()
      .from(passkeyCredentials)
      .where(eq(passkeyCredentials.credentialId, authenticator.id));
    expect(rows.map((row) => row.userId)).toEqual([ada.user.id]);
  });

  it.each([
    ["another origin", { origin: "https://evil.example" }, /origin/i],
    ["another RP ID", { rpId: "evil.example" }, /RP ID/i],
    ["no user verification", { userVerified: false }, /user verification/i],
    ["a get() answer instead of create()", { type: "webauthn.get" }, /type/i],
  ])("refuses %s (400 passkey_registration_failed)", async (_, tweaks, reason) => {
    const ada = await person();
    const authenticator = await SoftAuthenticator.create();
    const response = await authenticator.register(await registrationOptions(ada.api), tweaks);
    const problem = await problemOf(
      await ada.api.post(PASSKEY_PATHS.registerVerify, { body: { response } }),
      400,
    );
    expect(problem.code).toBe("passkey_registration_failed");
    expect(problem.detail).toMatch(reason);
    expect(
      await db.select().from(passkeyCredentials).where(eq(passkeyCredentials.userId, ada.user.id)),
    ).toEqual([]);
  });

  it("spends the challenge once, and only for the account it was issued to", async () => {
    const ada = await person();
    const options = await registrationOptions(ada.api);
    const first = await SoftAuthenticator.create();
    await jsonOf(
      await ada.api.post(PASSKEY_PATHS.registerVerify, { body: { response: await first.register(options) } }),
      201,
    );
    const second = await SoftAuthenticator.create();
    const replay = await ada.api.post(PASSKEY_PATHS.registerVerify, {
      body: { response: await second.register(options) },
    });
    expect((await problemOf(replay, 400)).code).toBe("passkey_registration_failed");

    // Grace answers Ada's challenge: it is not one of hers.
    const grace = await person();
    const adas = await registrationOptions(ada.api);
    const stolen = await grace.api.post(PASSKEY_PATHS.registerVerify, {
      body: { response: await (await SoftAuthenticator.create()).register(adas) },
    });
    expect((await problemOf(stolen, 400)).code).toBe("passkey_registration_failed");
    // ... and spending it failed, so Ada still can.
    await jsonOf(
      await ada.api.post(PASSKEY_PATHS.registerVerify, {
        body: { response: await (await SoftAuthenticator.create()).register(adas) },
      }),
      201,
    );
  });

  it("refuses a challenge older than five minutes", async () => {
    const ada = await person();
    const options = await registrationOptions(ada.api);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 5 * 60_000 + 1_000);
    const late = await ada.api.post(PASSKEY_PATHS.registerVerify, {
      body: { response: await (await SoftAuthenticator.create()).register(options) },
    });
    expect((await problemOf(late, 400)).code).toBe("passkey_registration_failed");
  });

  it("caps an account at 20 passkeys (409 passkey_limit_reached)", async () => {
    const ada = await person();
    await insertChunked(
      db,
      passkeyCredentials,
      Array.from({ length: 20 }, (_, i) => ({
        userId: ada.user.id,
        credentialId: `seeded-${i}-${crypto.randomUUID()}`,
        publicKey: "AA",
        transports: [],
        deviceType: "singleDevice" as const,
        backedUp: false,
        name: `Key ${i}`,
        aaguid: "00000000-0000-0000-0000-000000000000",
      })),
    );
    const problem = await problemOf(await ada.api.post(PASSKEY_PATHS.registerOptions), 409);
    expect(problem.code).toBe("passkey_limit_reached");
  });
});

describe("your passkeys: list, rename, remove", () => {
  it("lists your passkeys (a cursor page), oldest first, and never anyone else's", async () => {
    const ada = await person();
    const first = await addPasskey(ada.api, { name: "Phone" });
    const second = await addPasskey(ada.api, { name: "Laptop" });
    await addPasskey((await person()).api, { name: "Someone else's" });

    const res = await ada.api.get(PASSKEY_PATHS.mine);
    const page = await jsonOf<Page<PasskeyDto>>(res, 200);
    expect(page.data.map((passkey) => passkey.id)).toEqual([first.passkey.id, second.passkey.id]);
    expect(page.meta).toEqual({ next: null, prev: null, total: 2 });

    const byName = await jsonOf<Page<PasskeyDto>>(
      await ada.api.get(`${PASSKEY_PATHS.mine}?sort=name&limit=1`),
      200,
    );
    expect(byName.data.map((passkey) => passkey.name)).toEqual(["Laptop"]);
    expect(byName.meta.next).toBeTruthy();
    const next = await jsonOf<Page<PasskeyDto>>(
      await ada.api.get(`${PASSKEY_PATHS.mine}?sort=name&limit=1&cursor=${byName.meta.next}`),
      200,
    );
    expect(next.data.map((passkey) => passkey.name)).toEqual(["Phone"]);

    const bad = await problemOf(await ada.api.get(`${PASSKEY_PATHS.mine}?sort=counter`), 400);
    expect(bad.errors?.[0]?.parameter).toBe("sort");
  });

  it("shows when a passkey was last used", async () => {
    const ada = await person();
    const { passkey, authenticator } = await addPasskey(ada.api);
    await jsonOf(await passkeySignIn(authenticator), 200);
    const after = await jsonOf<PasskeyDto>(await ada.api.get(`${PASSKEY_PATHS.mine}/${passkey.id}`), 200);
    expect(after.last_used_at).not.toBeNull();
  });

  it("renames one (audited); the name is one line of 1–64 characters", async () => {
    const ada = await person();
    const { passkey } = await addPasskey(ada.api, { name: "Phone" });
    const requestId = `passkey-rename-${crypto.randomUUID()}`;
    const renamed = await jsonOf<PasskeyDto>(
      await ada.api.patch(`${PASSKEY_PATHS.mine}/${passkey.id}`, {
        body: { name: "Pixel 9" },
        headers: { "x-request-id": requestId },
      }),
      200,
    );
    expect(renamed).toEqual({ ...passkey, name: "Pixel 9" });
    const [row] = await auditRowsOf(requestId);
    expect(row).toMatchObject({ action: "auth.passkey_renamed", targetId: ada.user.id });
    expect(row?.before).toEqual({ passkey_id: passkey.id, name: "Phone" });
    expect(row?.after).toEqual({ passkey_id: passkey.id, name: "Pixel 9" });

    for (const name of ["", "   ", "x".repeat(65), "two\nlines"]) {
      const problem = await problemOf(
        await ada.api.patch(`${PASSKEY_PATHS.mine}/${passkey.id}`, { body: { name } }),
        400,
      );
      expect(problem.errors?.[0]?.pointer, JSON.stringify(name)).toBe("/name");
    }
  });

  it("removes one (re-authenticated, audited, emailed); it signs in no more", async () => {
    const ada = await person({ firstName: "Ada" });
    const kept = await addPasskey(ada.api, { name: "Phone" });
    const removed = await addPasskey(ada.api, { name: "Old laptop" });
    const requestId = `passkey-remove-${crypto.randomUUID()}`;
    const res = await ada.api.delete(`${PASSKEY_PATHS.mine}/${removed.passkey.id}`, {
      headers: { "x-request-id": requestId },
    });
    expect(res.status).toBe(204);

    const page = await jsonOf<Page<PasskeyDto>>(await ada.api.get(PASSKEY_PATHS.mine), 200);
    expect(page.data.map((passkey) => passkey.id)).toEqual([kept.passkey.id]);
    const [row] = await auditRowsOf(requestId);
    expect(row).toMatchObject({ action: "auth.passkey_removed", targetId: ada.user.id, after: null });
    expect(row?.before).toMatchObject({ passkey_id: removed.passkey.id, name: "Old laptop" });

    const email = await mailbox.next(ada.email, "passkey_changed");
    expect(email.data).toMatchObject({ event: "passkey_removed", passkey_name: "Old laptop" });
    const sent = await deliver(email);
    expect(sent.subject).toBe("A passkey was removed from your Edge API Platform account");
    expect(sent.text).toContain("Old laptop");

    expect((await problemOf(await passkeySignIn(removed.authenticator), 401)).code).toBe("invalid_passkey");
    await jsonOf(await passkeySignIn(kept.authenticator), 200);
  });

  it("needs a recent sign-in for every removal: an old one is 403 until the password is given", async () => {
    const stale = await staleSession();
    // Added from a fresh session of the same account; removed from the old one.
    const fresh = as((await signIn(stale.user)).accessToken);
    const { passkey } = await addPasskey(fresh);
    const path = `${PASSKEY_PATHS.mine}/${passkey.id}`;

    const refused = await problemOf(await stale.api.delete(path), 403);
    expect(refused.code).toBe("reauthentication_required");
    expect(refused.accepted_proofs).toEqual(["current_password", "sign_in"]);
    const wrong = await problemOf(
      await stale.api.delete(path, { body: { current_password: "nope nope" } }),
      403,
    );
    expect(wrong.errors?.[0]?.pointer).toBe("/current_password");
    expect((await stale.api.delete(path, { body: { current_password: stale.password } })).status).toBe(204);
  });

  it("refuses to remove the last way in (409 last_sign_in_method), even with a fresh sign-in", async () => {
    // A passwordless account (a magic-code sign-up) with one passkey.
    const account = await createUser();
    await db.update(users).set({ passwordHash: null }).where(eq(users.id, account.user.id));
    const ada = as((await signIn(account.user)).accessToken);
    const only = await addPasskey(ada);
    const problem = await problemOf(await ada.delete(`${PASSKEY_PATHS.mine}/${only.passkey.id}`), 409);
    expect(problem.code).toBe("last_sign_in_method");

    // With a second passkey, either may go; then the other is the last again.
    const second = await addPasskey(ada);
    expect((await ada.delete(`${PASSKEY_PATHS.mine}/${only.passkey.id}`)).status).toBe(204);
    expect((await problemOf(await ada.delete(`${PASSKEY_PATHS.mine}/${second.passkey.id}`), 409)).code).toBe(
      "last_sign_in_method",
    );
  });

  it("answers 404 for another account's passkey, and changes nothing", async () => {
    const ada = await person();
    const { passkey } = await addPasskey(ada.api, { name: "Ada's" });
    const grace = await person();
    const path = `${PASSKEY_PATHS.mine}/${passkey.id}`;
    expect((await problemOf(await grace.api.get(path), 404)).code).toBe("not_found");
    expect((await problemOf(await grace.api.patch(path, { body: { name: "Mine now" } }), 404)).code).toBe(
      "not_found",
    );
    expect((await problemOf(await grace.api.delete(path), 404)).code).toBe("not_found");
    expect((await jsonOf<PasskeyDto>(await ada.api.get(path), 200)).name).toBe("Ada's");
    const notUuid = await problemOf(await ada.api.get(`${PASSKEY_PATHS.mine}/not-a-uuid`), 400);
    expect(notUuid.errors?.[0]?.parameter).toBe("id");
  });
});

securitySuite("GET /api/v1/users/me/passkeys", {
  method: "GET",
  path: PASSKEY_PATHS.mine,
  notOwned: async () => {
    const ada = await person();
    const { passkey } = await addPasskey(ada.api);
    const grace = await person();
    return {
      path: `${PASSKEY_PATHS.mine}/${passkey.id}`,
      headers: { authorization: `Bearer ${grace.token}` },
    };
  },
});
securitySuite("POST /api/v1/auth/passkeys/register/options", {
  method: "POST",
  path: PASSKEY_PATHS.registerOptions,
  body: {},
});

describe("challenges are stored for five minutes", () => {
  it("registration options store a challenge bound to the account", async () => {
    const ada = await person();
    const options = await registrationOptions(ada.api);
    const row = await db
      .select()
      .from(passkeyChallenges)
      .where(eq(passkeyChallenges.challenge, options.challenge))
      .get();
    expect(row).toMatchObject({ purpose: "register", userId: ada.user.id, allowCredentials: null });
    const ttl = (row?.expiresAt.getTime() ?? 0) - (row?.createdAt.getTime() ?? 0);
    expect(ttl).toBe(5 * 60_000);
    expect(TEST_ORIGIN).toBe("http://localhost:8787");
  });
});
