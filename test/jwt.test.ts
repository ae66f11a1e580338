/**
 * Access tokens: the key ring (rotation, caching, configuration errors), the
 * JWKS, and every attack from the issue refused both by verifyAccessToken() and
 * over HTTP (401 with `WWW-Authenticate: Bearer error="invalid_token"`).
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { ConfigError } from "../src/env";
import {
  CLOCK_TOLERANCE_SECONDS,
  getKeyRing,
  InvalidTokenError,
  signAccessToken,
  verifyAccessToken,
} from "../src/lib/jwt";
import { createUser, signIn, type Tokens } from "./support/factories";
import { api, as, jsonOf, problemOf } from "./support/http";
import {
  decodeSegment,
  hs256WithPublicKey,
  newPrivateJwk,
  realKid,
  type Subject,
  signCustom,
  signedWithForeignKey,
  signWithRealKey,
  tamperPayload,
  tokenSettings,
  unsignedToken,
} from "./support/tokens";

describe("key ring", () => {
  it("signs with the first key and verifies with every key (rotation)", async () => {
    const [current, previous] = [await newPrivateJwk("key-2026-12"), await newPrivateJwk("key-2026-11")];
    const oldRing = await getKeyRing(JSON.stringify([previous]));
    const rotatedRing = await getKeyRing(JSON.stringify([current, previous]));
    const subject = {
      userId: crypto.randomUUID(),
      sessionId: crypto.randomUUID(),
      isStaff: false,
      authTime: Date.now(),
      amr: ["pwd"],
    };

    const before = await signAccessToken(oldRing, tokenSettings(), subject);
    const after = await signAccessToken(rotatedRing, tokenSettings(), subject);
    expect(decodeSegment(after.token.split(".")[0] as string).kid).toBe("key-2026-12");
    // A token signed before the rotation still verifies with the new ring ...
    await expect(verifyAccessToken(rotatedRing, tokenSettings(), before.token)).resolves.toMatchObject({
      sub: subject.userId,
    });
    // ... and once the old key is dropped, it is refused as signed by an unknown key.
    const dropped = await getKeyRing(JSON.stringify([current]));
    await expect(verifyAccessToken(dropped, tokenSettings(), before.token)).rejects.toMatchObject({
      reason: "unknown_key",
    });
    expect(rotatedRing.jwks.keys.map((key) => key.kid)).toEqual(["key-2026-12", "key-2026-11"]);
  });

  it("imports a secret once per isolate", async () => {
    const raw = JSON.stringify([await newPrivateJwk("cached")]);
    expect(await getKeyRing(raw)).toBe(await getKeyRing(raw));
  });

  it.each([
    ["unset", undefined, /not set/],
    ["not JSON", "{nope", /not valid JSON/],
    ["an empty array", "[]", /JWT_PRIVATE_KEYS/],
    ["a key without kid", "no-kid", /kid/],
    ["a public key only", "public-only", /\[0\]\[d\]/],
    ["two keys with one kid", "duplicate", /unique/],
    ["an RSA key", JSON.stringify([{ kty: "RSA", kid: "r", n: "x", e: "AQAB", d: "y" }]), /kty/],
  ])(
    "refuses a secret that is %s with a ConfigError that never echoes key material",
    async (_label, raw, message) => {
      const jwk = await newPrivateJwk("k1");
      const secret =
        raw === "no-kid"
          ? JSON.stringify([{ ...jwk, kid: undefined }])
          : raw === "public-only"
            ? JSON.stringify([{ ...jwk, d: undefined }])
            : raw === "duplicate"
              ? JSON.stringify([jwk, await newPrivateJwk("k1")])
              : raw;
      const error = await getKeyRing(secret).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ConfigError);
      const text = (error as ConfigError).message;
      expect(text).toMatch(message);
      expect(text).not.toContain(String(jwk.d));
    },
  );

  it("answers a broken key configuration with a 500 configuration_error, not a stack", async () => {
    const res = await createApp().request("/.well-known/jwks.json", {}, { ...env, JWT_PRIVATE_KEYS: "[]" });
    expect((await problemOf(res, 500)).code).toBe("configuration_error");
  });
});

describe("GET /.well-known/jwks.json", () => {
  it("publishes the public half of the signing key, never `d`", async () => {
    const res = await api("GET", "/.well-known/jwks.json");
    const body = await jsonOf<{ keys: Array<Record<string, unknown>> }>(res, 200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    const configured = JSON.parse(env.JWT_PRIVATE_KEYS) as Array<Record<string, string>>;
    expect(body.keys).toEqual([
      {
        kty: "EC",
        crv: "P-256",
        kid: configured[0]?.kid,
        x: configured[0]?.x,
        y: configured[0]?.y,
        alg: "ES256",
        use: "sig",
      },
    ]);
    expect(JSON.stringify(body)).not.toContain('"d"');
    expect(JSON.stringify(body)).not.toContain(String(configured[0]?.d));
  });
});

describe("attacks on access tokens", () => {
  let tokens: Tokens;
  let subject: Subject;
  beforeAll(async () => {
    const { user } = await createUser();
    tokens = await signIn(user);
    subject = { userId: user.id, sessionId: tokens.sessionId };
  });

  const attacks: Array<[string, () => Promise<string>]> = [
    ["alg: none", () => unsignedToken(subject)],
    ["HS256 signed with the public key", () => hs256WithPublicKey(subject)],
    ["another issuer", () => signWithRealKey(subject, { issuer: "https://evil.example" })],
    ["another audience", () => signWithRealKey(subject, { audience: "another-api" })],
    ["expired", () => signWithRealKey(subject, {}, Date.now() - 16 * 60 * 1000)],
    ["not valid yet (nbf in the future)", () => signWithRealKey(subject, {}, Date.now() + 10 * 60 * 1000)],
    [
      "tampered payload (another user)",
      async () =>
        tamperPayload(tokens.accessToken, (claims) => {
          claims.sub = crypto.randomUUID();
        }),
    ],
    [
      "tampered payload (staff flag)",
      async () =>
        tamperPayload(tokens.accessToken, (claims) => {
          claims.is_staff = true;
        }),
    ],
    ["an unknown kid", () => signedWithForeignKey(subject)],
    ["a foreign key claiming our kid", async () => signedWithForeignKey(subject, await realKid())],
    ["the refresh token", async () => tokens.refreshToken],
    ["typ JWT instead of at+jwt", () => signCustom(subject, { typ: "JWT" })],
    ["no typ", () => signCustom(subject, { typ: null })],
    ["no exp", () => signCustom(subject, { omit: ["exp"] })],
    ["no sid", () => signCustom(subject, { omit: ["sid"] })],
    ["no jti", () => signCustom(subject, { omit: ["jti"] })],
    ["an array audience without ours", () => signCustom(subject, { extra: { aud: ["a", "b"] } })],
    ["a truncated token", async () => tokens.accessToken.slice(0, -10)],
    ["an oversized token", async () => `${tokens.accessToken}${"A".repeat(5000)}`],
  ];

  it("the genuine token works (so each refusal below is the attack's doing)", async () => {
    expect((await as(tokens.accessToken).get("/api/v1/users/me")).status).toBe(200);
    const claims = await verifyAccessToken(
      await getKeyRing(env.JWT_PRIVATE_KEYS),
      tokenSettings(),
      tokens.accessToken,
    );
    expect(claims.sid).toBe(tokens.sessionId);
  });

  it.each(attacks)("refuses %s in verifyAccessToken()", async (_label, forge) => {
    const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
    await expect(verifyAccessToken(ring, tokenSettings(), await forge())).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
  });

  it.each(attacks)("answers %s with 401 invalid_token over HTTP", async (_label, forge) => {
    const forged = await forge();
    const res = await as(forged).get("/api/v1/users/me");
    const problem = await problemOf(res, 401);
    expect(problem.code).toBe("invalid_token");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
    const verified = await api("POST", "/api/v1/auth/token/verify", {
      body: { token: forged.slice(0, 8192) },
    });
    expect(verified.status).toBe(401);
  });

  it("says why an expired token was refused", async () => {
    const expired = await signWithRealKey(subject, {}, Date.now() - 16 * 60 * 1000);
    const problem = await problemOf(await as(expired).get("/api/v1/users/me"), 401);
    expect(problem.detail).toBe("The access token has expired.");
  });

  it("tolerates a few seconds of clock skew, not more", async () => {
    const skewed = await signWithRealKey(subject, {}, Date.now() + 3_000);
    expect((await as(skewed).get("/api/v1/users/me")).status).toBe(200);
  });
});

describe("tokens this isolate has verified", () => {
  afterEach(() => vi.restoreAllMocks());

  const someone = () => ({
    userId: crypto.randomUUID(),
    sessionId: crypto.randomUUID(),
    isStaff: false,
    authTime: Date.now(),
    amr: ["pwd"],
  });

  it("are answered without another signature check, with the same frozen claims", async () => {
    const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
    const { token } = await signAccessToken(ring, tokenSettings(), someone());
    const verify = vi.spyOn(crypto.subtle, "verify");
    const first = await verifyAccessToken(ring, tokenSettings(), token);
    const again = await verifyAccessToken(ring, tokenSettings(), token);
    expect(again).toBe(first);
    expect(verify).toHaveBeenCalledTimes(1);
    expect(Object.isFrozen(first) && Object.isFrozen(first.amr)).toBe(true);
  });

  it("are refused once expired, though they verified before", async () => {
    const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
    const { token } = await signAccessToken(ring, tokenSettings(), someone());
    const claims = await verifyAccessToken(ring, tokenSettings(), token);
    const pastExpiry = (claims.exp + CLOCK_TOLERANCE_SECONDS) * 1000 + 1;
    await expect(verifyAccessToken(ring, tokenSettings(), token, pastExpiry)).rejects.toMatchObject({
      reason: "expired",
    });
  });

  it("are checked again against another issuer or audience, and by a ring without their key", async () => {
    const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
    const { token } = await signAccessToken(ring, tokenSettings(), someone());
    await verifyAccessToken(ring, tokenSettings(), token);
    await expect(
      verifyAccessToken(ring, { ...tokenSettings(), audience: "another-api" }, token),
    ).rejects.toBeInstanceOf(InvalidTokenError);
    await expect(
      verifyAccessToken(ring, { ...tokenSettings(), issuer: "https://evil.example" }, token),
    ).rejects.toBeInstanceOf(InvalidTokenError);
    const retired = await getKeyRing(JSON.stringify([await newPrivateJwk("after-retirement")]));
    await expect(verifyAccessToken(retired, tokenSettings(), token)).rejects.toMatchObject({
      reason: "unknown_key",
    });
  });

  it("lend nothing to a token that differs by one character", async () => {
    const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
    const { token } = await signAccessToken(ring, tokenSettings(), someone());
    await verifyAccessToken(ring, tokenSettings(), token);
    // A character in the middle of the signature (the last one's low bits are padding).
    const at = token.length - 20;
    const changed = `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
    await expect(verifyAccessToken(ring, tokenSettings(), changed)).rejects.toBeInstanceOf(InvalidTokenError);
  });
});
