/**
 * Passkeys against an attacker and against bad input: the claim rule drops passkeys a
 * squatter registered before the owner proved the address; erasure takes them with
 * the account; the cron purges challenges nobody used; hostile or malformed WebAuthn
 * JSON is a 400 naming the field (never a 500, property-checked); the relying party
 * configuration refuses what no browser would accept; the routes are documented.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { passkeyChallenges, passkeyCredentials, passkeyUserHandles } from "../src/db/schema";
import { type Bindings, ConfigError, getConfig } from "../src/env";
import { purgePasskeyChallengesJob } from "../src/modules/auth/passkeys/passkeys.cron";
import { removePasskeysOf } from "../src/modules/auth/passkeys/passkeys.service";
import { resolveRelyingParty } from "../src/modules/auth/passkeys/relying-party";
import { wiring } from "../src/modules/wiring";
import { type AuthTokensBody, newAddress, person, serviceContext } from "./support/factories";
import { api, as, fieldsOf, jsonOf, problemOf } from "./support/http";
import { mailboxPerTest } from "./support/mailbox";
import {
  addPasskey,
  loginOptions,
  PASSKEY_PATHS,
  passkeySignIn,
  registrationOptions,
} from "./support/passkeys";
import { SoftAuthenticator } from "./support/webauthn";

vi.setConfig({ testTimeout: 60_000 });

const db = getDb(env);
const mailbox = mailboxPerTest();

afterEach(() => {
  vi.restoreAllMocks();
});

const SQUATTER_PASSWORD = "squatter picked this";

describe("the account claim drops a squatter's passkeys", () => {
  it("passkeys registered before the owner proved the address stop signing in; the owner starts clean", async () => {
    const email = newAddress("victim-passkey");
    const registered = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/register", {
        body: { email, password: SQUATTER_PASSWORD, password_confirm: SQUATTER_PASSWORD },
      }),
      201,
    );
    const squatter = as(registered.access_token);
    const planted = await addPasskey(squatter, { name: "Backdoor" });
    const plantedHandle = (await registrationOptions(squatter)).user.id;
    await jsonOf(await passkeySignIn(planted.authenticator), 200);

    // The owner proves the address with a magic code: the never-verified account is claimed.
    expect((await api("POST", "/api/v1/auth/magic/request", { body: { email } })).status).toBe(202);
    const code = (await mailbox.next(email, "magic_code")).data.code;
    const owner = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/magic/verify", { body: { email, code } }),
      200,
    );
    expect(owner.user.id).toBe(registered.user.id);

    expect((await problemOf(await passkeySignIn(planted.authenticator), 401)).code).toBe("invalid_passkey");
    expect((await problemOf(await passkeySignIn(planted.authenticator, { email }), 401)).code).toBe(
      "invalid_passkey",
    );
    const rows = await db
      .select()
      .from(passkeyCredentials)
      .where(eq(passkeyCredentials.userId, owner.user.id));
    expect(rows).toEqual([]);
    // The owner's own passkeys are created under a new user handle: the squatter's authenticator names nothing.
    const ownerClient = as(owner.access_token);
    expect((await registrationOptions(ownerClient)).user.id).not.toBe(plantedHandle);
    const mine = await addPasskey(ownerClient);
    await jsonOf(await passkeySignIn(mine.authenticator), 200);
  });

  it("is a claim step in the wiring, and leaves a verified account's passkeys alone", async () => {
    expect(wiring.accountClaimSteps).toContain(removePasskeysOf);
    const ada = await person({ emailVerifiedAt: new Date() });
    const { authenticator } = await addPasskey(ada.api);
    // A verified account is never claimed: a magic code sign-in keeps its passkeys.
    await api("POST", "/api/v1/auth/magic/request", { body: { email: ada.email } });
    const code = (await mailbox.next(ada.email, "magic_code")).data.code;
    await jsonOf(await api("POST", "/api/v1/auth/magic/verify", { body: { email: ada.email, code } }), 200);
    await jsonOf(await passkeySignIn(authenticator), 200);
  });
});

describe("erasure", () => {
  it("DELETE /users/me takes the passkeys, the user handle and open challenges with the account", async () => {
    const ada = await person();
    const { authenticator } = await addPasskey(ada.api);
    await registrationOptions(ada.api);
    await loginOptions(ada.email);
    expect((await ada.api.delete("/api/v1/users/me")).status).toBe(204);
    for (const table of [passkeyCredentials, passkeyUserHandles, passkeyChallenges]) {
      expect(await db.select().from(table).where(eq(table.userId, ada.user.id))).toEqual([]);
    }
    expect((await problemOf(await passkeySignIn(authenticator), 401)).code).toBe("invalid_passkey");
  });
});

describe("the hourly purge of challenges", () => {
  it("deletes expired challenges and keeps open ones", async () => {
    expect(wiring.maintenanceJobs).toContain(purgePasskeyChallengesJob);
    const open = await loginOptions();
    const expired = await loginOptions();
    await db
      .update(passkeyChallenges)
      .set({ expiresAt: new Date(Date.now() - 1_000) })
      .where(eq(passkeyChallenges.id, expired.challenge_id));
    const result = await purgePasskeyChallengesJob.run(serviceContext(), new Date());
    expect(result?.passkey_challenges).toBeGreaterThanOrEqual(1);
    const left = await db.select({ id: passkeyChallenges.id }).from(passkeyChallenges);
    expect(left.map((row) => row.id)).toContain(open.challenge_id);
    expect(left.map((row) => row.id)).not.toContain(expired.challenge_id);
  });
});

describe("malformed input: 400 naming the field, never 500", () => {
  const base64url = (text: string) => btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

  it("registration verify", async () => {
    const ada = await person();
    const valid = await (await SoftAuthenticator.create()).register(await registrationOptions(ada.api));
    const cases: Array<[string, unknown, string]> = [
      ["no response", {}, "/response"],
      ["an unknown field", { response: valid, extra: 1 }, "/extra"],
      [
        "clientDataJSON not base64url",
        { response: { ...valid, response: { ...valid.response, clientDataJSON: "not base64!" } } },
        "/response/response/clientDataJSON",
      ],
      [
        "clientDataJSON not JSON",
        { response: { ...valid, response: { ...valid.response, clientDataJSON: base64url("{oops") } } },
        "/response/response/clientDataJSON",
      ],
      [
        "clientDataJSON without a challenge",
        {
          response: {
            ...valid,
            response: {
              ...valid.response,
              clientDataJSON: base64url('{"type":"webauthn.create","origin":"x"}'),
            },
          },
        },
        "/response/response/clientDataJSON",
      ],
      [
        "a huge clientDataJSON",
        { response: { ...valid, response: { ...valid.response, clientDataJSON: "A".repeat(9000) } } },
        "/response/response/clientDataJSON",
      ],
      [
        "attestationObject not CBOR",
        {
          response: {
            ...valid,
            response: { ...valid.response, attestationObject: base64url("definitely not cbor") },
          },
        },
        "/response/response/attestationObject",
      ],
      [
        "a huge id",
        { response: { ...valid, id: "A".repeat(2000), rawId: "A".repeat(2000) } },
        "/response/id",
      ],
      ["type not public-key", { response: { ...valid, type: "password" } }, "/response/type"],
      ["a name with a newline", { response: valid, name: "a\nb" }, "/name"],
      [
        "transports not a list",
        { response: { ...valid, response: { ...valid.response, transports: "usb" } } },
        "/response/response/transports",
      ],
    ];
    for (const [label, body, pointer] of cases) {
      const problem = await problemOf(await ada.api.post(PASSKEY_PATHS.registerVerify, { body }), 400);
      expect(problem.code, label).toBe("validation_failed");
      expect(fieldsOf(problem), label).toContain(pointer);
    }
    const tooLarge = await ada.api.post(PASSKEY_PATHS.registerVerify, {
      body: { response: { ...valid, clientExtensionResults: { padding: "x".repeat(200_000) } } },
    });
    expect((await problemOf(tooLarge, 413)).code).toBe("payload_too_large");
  });

  it("login verify and options", async () => {
    const { challenge_id, options } = await loginOptions();
    const valid = await (await SoftAuthenticator.create()).assert(options);
    const cases: Array<[string, unknown, string]> = [
      ["challenge_id not a uuid", { challenge_id: "x", response: valid }, "/challenge_id"],
      ["no response", { challenge_id }, "/response"],
      [
        "authenticatorData too short",
        {
          challenge_id,
          response: { ...valid, response: { ...valid.response, authenticatorData: base64url("short") } },
        },
        "/response/response/authenticatorData",
      ],
      [
        "signature not base64url",
        { challenge_id, response: { ...valid, response: { ...valid.response, signature: "%%%" } } },
        "/response/response/signature",
      ],
      [
        "a huge user handle",
        {
          challenge_id,
          response: { ...valid, response: { ...valid.response, userHandle: "A".repeat(200) } },
        },
        "/response/response/userHandle",
      ],
      [
        "clientDataJSON an array",
        {
          challenge_id,
          response: { ...valid, response: { ...valid.response, clientDataJSON: base64url("[1,2]") } },
        },
        "/response/response/clientDataJSON",
      ],
    ];
    for (const [label, body, pointer] of cases) {
      const problem = await problemOf(await api("POST", PASSKEY_PATHS.loginVerify, { body }), 400);
      expect(problem.code, label).toBe("validation_failed");
      expect(fieldsOf(problem), label).toContain(pointer);
    }
    // None of those spent the challenge: it still answers (and refuses this unknown passkey) with 401.
    expect(
      (
        await problemOf(
          await api("POST", PASSKEY_PATHS.loginVerify, { body: { challenge_id, response: valid } }),
          401,
        )
      ).code,
    ).toBe("invalid_passkey");

    const badEmail = await problemOf(
      await api("POST", PASSKEY_PATHS.loginOptions, { body: { email: "not an email" } }),
      400,
    );
    expect(fieldsOf(badEmail)).toEqual(["/email"]);
    const tooLarge = await api("POST", PASSKEY_PATHS.loginVerify, {
      body: { challenge_id, response: { ...valid, clientExtensionResults: { padding: "x".repeat(40_000) } } },
    });
    expect(tooLarge.status).toBe(413);
  });

  /** A genuine response with one field, at any depth, replaced by noise: reaches the verifier far more often than noise alone. */
  function mutate(
    value: Record<string, unknown>,
    path: string[],
    replacement: unknown,
  ): Record<string, unknown> {
    const [head, ...rest] = path as [string, ...string[]];
    if (rest.length === 0) return { ...value, [head]: replacement };
    return { ...value, [head]: mutate((value[head] ?? {}) as Record<string, unknown>, rest, replacement) };
  }
  const noise = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) =>
      btoa(String.fromCharCode(...bytes))
        .replaceAll("+", "-")
        .replaceAll("/", "_")
        .replace(/=+$/, ""),
    ),
  );
  const ALLOWED = new Set([
    "validation_failed",
    "malformed_json",
    "invalid_passkey",
    "passkey_registration_failed",
  ]);
  async function expectHandled(res: Response, label: string): Promise<number> {
    expect(res.status, label).toBeLessThan(500);
    if (res.status >= 400) {
      const problem = (await res.json()) as { code: string };
      expect(ALLOWED.has(problem.code), `${label}: ${problem.code}`).toBe(true);
    } else {
      await res.body?.cancel();
    }
    return res.status;
  }

  it("property: a login response with any field replaced by noise is a 400 or a 401", async () => {
    const ada = await person();
    const { authenticator } = await addPasskey(ada.api);
    const fields = [
      ["id"],
      ["rawId"],
      ["type"],
      ["response"],
      ["response", "clientDataJSON"],
      ["response", "authenticatorData"],
      ["response", "signature"],
      ["response", "userHandle"],
      ["clientExtensionResults"],
      ["authenticatorAttachment"],
    ];
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), noise, async (path, replacement) => {
        const { challenge_id, options } = await loginOptions();
        const response = (await authenticator.assert(options)) as unknown as Record<string, unknown>;
        const body = { challenge_id, response: mutate(response, path, replacement) };
        const res = await api("POST", PASSKEY_PATHS.loginVerify, { body });
        statuses.add(await expectHandled(res, JSON.stringify({ path, replacement }).slice(0, 300)));
      }),
      { numRuns: 60 },
    );
    expect(statuses).toContain(400);
    expect(statuses).toContain(401);
  });

  it("property: a registration response with any field replaced by noise is a 400 or a 201", async () => {
    const fields = [
      ["id"],
      ["rawId"],
      ["type"],
      ["response"],
      ["response", "clientDataJSON"],
      ["response", "attestationObject"],
      ["response", "transports"],
      ["response", "publicKey"],
      ["response", "authenticatorData"],
      ["clientExtensionResults"],
    ];
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), noise, async (path, replacement) => {
        // A fresh person per run: each stays far below the passkey_register policy.
        const someone = await person();
        const response = (await (
          await SoftAuthenticator.create()
        ).register(await registrationOptions(someone.api))) as unknown as Record<string, unknown>;
        const res = await someone.api.post(PASSKEY_PATHS.registerVerify, {
          body: { response: mutate(response, path, replacement) },
        });
        statuses.add(await expectHandled(res, JSON.stringify({ path, replacement }).slice(0, 300)));
      }),
      { numRuns: 40 },
    );
    expect(statuses).toContain(400);
  });
});

describe("relying party configuration", () => {
  const base = { APP_URL: "https://api.example.com", APP_NAME: "Acme" };

  it("defaults to the host and origin of APP_URL, and the name to APP_NAME", () => {
    expect(resolveRelyingParty(base)).toEqual({
      ok: true,
      relyingParty: { rpId: "api.example.com", rpName: "Acme", origins: ["https://api.example.com"] },
    });
    // The tests' own configuration: the local client apps under localhost.
    const config = getConfig(env);
    expect(config.WEBAUTHN_RP_ID).toBe("localhost");
    expect(config.WEBAUTHN_ORIGINS).toContain("http://localhost:8787");
    expect(config.WEBAUTHN_RP_NAME).toBe(config.APP_NAME);
  });

  it("accepts subdomains of the RP ID, Android app origins, and normalises each origin", () => {
    const android = `android:apk-key-hash:${"A".repeat(43)}`;
    const resolved = resolveRelyingParty({
      ...base,
      WEBAUTHN_RP_ID: "example.com",
      WEBAUTHN_ORIGINS: ["https://app.example.com/", "https://EXAMPLE.com:443", android],
    });
    expect(resolved).toEqual({
      ok: true,
      relyingParty: {
        rpId: "example.com",
        rpName: "Acme",
        origins: ["https://app.example.com", "https://example.com", android],
      },
    });
  });

  it.each([
    [
      "an origin outside the RP ID",
      { WEBAUTHN_ORIGINS: ["https://app.example.com"] },
      /host of "https:\/\/app\.example\.com" is not the RP ID "api\.example\.com" \(the host of APP_URL\).*registrable suffix.*e\.g\. example\.com/,
    ],
    [
      "an RP ID that is no suffix of APP_URL's host",
      { WEBAUTHN_RP_ID: "other.com" },
      /not the RP ID "other\.com".*WEBAUTHN_RP_ID to a domain every origin shares/,
    ],
    [
      "an RP ID with a scheme",
      { WEBAUTHN_RP_ID: "https://example.com" },
      /WEBAUTHN_RP_ID: .* is not a domain name/,
    ],
    [
      "an IP address as RP ID",
      { WEBAUTHN_RP_ID: "192.0.2.1", WEBAUTHN_ORIGINS: ["https://192.0.2.1"] },
      /not a domain name/,
    ],
    [
      "http outside localhost",
      { WEBAUTHN_RP_ID: "example.com", WEBAUTHN_ORIGINS: ["http://app.example.com"] },
      /https origins, and on http only for localhost/,
    ],
    ["an origin with a path", { WEBAUTHN_ORIGINS: ["https://api.example.com/app"] }, /must be an origin/],
    ["not a URL", { WEBAUTHN_ORIGINS: ["app.example.com"] }, /neither an origin/],
  ])("refuses %s, saying how to fix it", (_, settings, message) => {
    const resolved = resolveRelyingParty({ ...base, ...settings });
    expect(resolved.ok).toBe(false);
    if (!resolved.ok) expect(resolved.issues.join("\n")).toMatch(message);
  });

  it("getConfig refuses a bad setting with a ConfigError naming the variable", () => {
    const vars = {
      ...env,
      APP_URL: "https://api.example.com",
      WEBAUTHN_RP_ID: "",
      WEBAUTHN_ORIGINS: "https://app.example.com",
    };
    expect(() => getConfig(vars as unknown as Bindings)).toThrowError(ConfigError);
    expect(() => getConfig({ ...vars } as unknown as Bindings)).toThrowError(
      /WEBAUTHN_ORIGINS: .*registrable suffix/,
    );
    const fixed = getConfig({ ...vars, WEBAUTHN_RP_ID: "Example.COM" } as unknown as Bindings);
    expect(fixed.WEBAUTHN_RP_ID).toBe("example.com");
    expect(fixed.WEBAUTHN_ORIGINS).toEqual(["https://app.example.com"]);
  });
});

describe("OpenAPI document", () => {
  type Operation = {
    tags?: string[];
    security?: unknown;
    responses: Record<string, { content?: Record<string, { example?: unknown }> }>;
    requestBody?: { content: Record<string, { schema: unknown }> };
  };
  const ROUTES: Array<[string, string, boolean, string[]]> = [
    ["post", "/api/v1/auth/passkeys/register/options", true, ["200", "401", "403", "409", "429"]],
    ["post", "/api/v1/auth/passkeys/register/verify", true, ["201", "400", "401", "403", "409", "413"]],
    ["post", "/api/v1/auth/passkeys/login/options", false, ["200", "400", "429"]],
    ["post", "/api/v1/auth/passkeys/login/verify", false, ["200", "400", "401", "403", "429"]],
    ["get", "/api/v1/users/me/passkeys", true, ["200", "400", "401"]],
    ["get", "/api/v1/users/me/passkeys/{id}", true, ["200", "401", "404"]],
    ["patch", "/api/v1/users/me/passkeys/{id}", true, ["200", "400", "401", "404"]],
    ["delete", "/api/v1/users/me/passkeys/{id}", true, ["204", "401", "403", "404", "409", "429"]],
  ];

  it("documents every passkey route with its examples and problems", async () => {
    const doc = await jsonOf<{
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, { example?: unknown }> };
    }>(await api("GET", "/api/openapi.json"), 200);
    for (const [method, path, secured, statuses] of ROUTES) {
      const op = doc.paths[path]?.[method] as Operation;
      expect(op, `${method} ${path}`).toBeDefined();
      expect(op.tags).toEqual(["Passkeys"]);
      if (secured) expect(op.security).toEqual([{ bearerAuth: [] }]);
      else expect(op.security).toBeUndefined();
      for (const status of statuses) expect(Object.keys(op.responses), `${method} ${path}`).toContain(status);
      for (const [status, response] of Object.entries(op.responses)) {
        const content =
          response.content?.[Number(status) >= 400 ? "application/problem+json" : "application/json"];
        if (status !== "204") expect(content?.example, `${method} ${path} ${status}`).toBeDefined();
      }
    }
    for (const name of [
      "Passkey",
      "PasskeyPage",
      "PublicKeyCredentialCreationOptionsJSON",
      "PublicKeyCredentialRequestOptionsJSON",
      "RegistrationResponseJSON",
      "AuthenticationResponseJSON",
      "PasskeyLoginOptions",
    ]) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
    expect(doc.components.schemas.Passkey?.example).toBeDefined();
  });

  it("lists the passkey problem codes at /problems/{code}", async () => {
    for (const code of [
      "invalid_passkey",
      "passkey_registration_failed",
      "passkey_already_registered",
      "passkey_limit_reached",
      "last_sign_in_method",
    ]) {
      const res = await api("GET", `/problems/${code}`);
      expect(res.status, code).toBe(200);
      await res.body?.cancel();
    }
  });
});
