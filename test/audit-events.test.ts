/**
 * Security events append exactly one audit row each, written where they happen:
 * sign-in lockout, API key created and revoked, member role change, password reset
 * and refresh-token reuse. Driven through the API as a client would.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { type AuditLog, auditLogs, type Organization, type User } from "../src/db/schema";
import { randomToken, sha256Hex } from "../src/lib/crypto";
import { deliverPasswordReset } from "../src/modules/auth/password-reset.service";
import { SIGN_IN_THROTTLE } from "../src/modules/auth/sign-in-throttle.do";
import { createUser, serviceContext, signIn, type TestUser } from "./support/factories";
import { api, as, jsonOf, problemOf } from "./support/http";
import { type ApiKeyWithSecretDto, addMember, createOrg } from "./support/orgs";

const db = getDb(env);

const rows = (action: AuditLog["action"], targetId: string) =>
  db
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.action, action), eq(auditLogs.targetId, targetId)));

describe("sign-in lockout", () => {
  it("appends one auth.lockout row when failures lock a client out of the account, with who tried from where", async () => {
    const { user, email } = await createUser();
    const ip = "203.0.113.77";
    for (let i = 0; i < SIGN_IN_THROTTLE.clientLimit; i++) {
      const res = await api("POST", "/api/v1/auth/login", {
        body: { email, password: "wrong password entirely" },
        ip,
        headers: { "user-agent": "BruteForcer/1.0" },
      });
      await problemOf(res, 401);
      expect(await rows("auth.lockout", user.id), `after failure ${i + 1}`).toHaveLength(
        i + 1 < SIGN_IN_THROTTLE.clientLimit ? 0 : 1,
      );
    }
    // Locked now: refused before any password check, and that is not a new lockout.
    await problemOf(await api("POST", "/api/v1/auth/login", { body: { email, password: "x" }, ip }), 429);
    const [row] = await rows("auth.lockout", user.id);
    expect(row).toMatchObject({
      actorType: "anonymous",
      actorId: null,
      targetType: "user",
      ip,
      userAgent: "BruteForcer/1.0",
      before: null,
    });
    expect(row?.after).toMatchObject({
      scope: "client",
      client: ip,
      failures: SIGN_IN_THROTTLE.clientLimit,
      retry_after_seconds: 900,
    });
    expect(await rows("auth.lockout", user.id)).toHaveLength(1);
  });

  it("records a lockout of an address that has no account against a hash of it, never the address", async () => {
    const email = `nobody-${crypto.randomUUID()}@example.test`;
    for (let i = 0; i < SIGN_IN_THROTTLE.clientLimit; i++) {
      await problemOf(
        await api("POST", "/api/v1/auth/login", {
          body: { email, password: "nope nope" },
          ip: "203.0.113.78",
        }),
        401,
      );
    }
    const hash = await sha256Hex(email);
    const found = await rows("auth.lockout", hash);
    expect(found).toHaveLength(1);
    expect(found[0]?.targetType).toBe("login_identifier");
    expect(JSON.stringify(found[0])).not.toContain(email);
  });
});

describe("API keys", () => {
  let owner: User;
  let org: Organization;
  let client: ReturnType<typeof as>;
  beforeAll(async () => {
    owner = (await createUser({ emailVerifiedAt: new Date() })).user;
    org = await createOrg(owner);
    client = as((await signIn(owner)).accessToken);
  });

  it("api_key.create: one row with the key as listed, never its secret", async () => {
    const res = await client.post(`/api/v1/orgs/${org.id}/api-keys`, {
      body: { name: "CI deploys", scopes: ["tasks:read"] },
    });
    const created = await jsonOf<ApiKeyWithSecretDto>(res, 201);
    const found = await rows("api_key.create", created.id);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ actorType: "user", actorId: owner.id, targetType: "api_key" });
    expect(found[0]?.after).toMatchObject({
      id: created.id,
      organization_id: org.id,
      name: "CI deploys",
      scopes: ["tasks:read"],
      prefix: created.prefix,
    });
    expect(JSON.stringify(found[0])).not.toContain(created.key);
  });

  it("api_key.revoke: one row with the key before and after; revoking again adds none", async () => {
    const created = await jsonOf<ApiKeyWithSecretDto>(
      await client.post(`/api/v1/orgs/${org.id}/api-keys`, { body: { name: "Temp", scopes: ["org:read"] } }),
      201,
    );
    expect((await client.delete(`/api/v1/orgs/${org.id}/api-keys/${created.id}`)).status).toBe(204);
    expect((await client.delete(`/api/v1/orgs/${org.id}/api-keys/${created.id}`)).status).toBe(204);
    const found = await rows("api_key.revoke", created.id);
    expect(found).toHaveLength(1);
    expect(found[0]?.before).toMatchObject({ status: "active", revoked_at: null });
    expect(found[0]?.after).toMatchObject({ status: "revoked", revoked_at: expect.any(String) });
  });
});

describe("member role change", () => {
  it("member.role_change: one row per change; no row for a no-op or a refused last-owner demotion", async () => {
    const owner = (await createUser()).user;
    const member = (await createUser()).user;
    const org = await createOrg(owner);
    await addMember(org, member, "member");
    const client = as((await signIn(owner)).accessToken);
    const target = `${org.id}:${member.id}`;

    await jsonOf(
      await client.patch(`/api/v1/orgs/${org.id}/members/${member.id}`, { body: { role: "admin" } }),
      200,
    );
    await jsonOf(
      await client.patch(`/api/v1/orgs/${org.id}/members/${member.id}`, { body: { role: "admin" } }),
      200,
    );
    const found = await rows("member.role_change", target);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ actorId: owner.id, targetType: "membership" });
    expect(found[0]?.before).toEqual({ organization_id: org.id, user_id: member.id, role: "member" });
    expect(found[0]?.after).toEqual({ organization_id: org.id, user_id: member.id, role: "admin" });

    const self = await client.patch(`/api/v1/orgs/${org.id}/members/${owner.id}`, {
      body: { role: "member" },
    });
    expect((await problemOf(self, 409)).code).toBe("last_owner");
    expect(await rows("member.role_change", `${org.id}:${owner.id}`)).toHaveLength(0);
  });
});

describe("password reset", () => {
  it("auth.password_reset: one row with the account, written with the new password", async () => {
    const { user, email }: TestUser = await createUser();
    const token = `pr_${randomToken(32)}`;
    const ctx = serviceContext();
    expect(
      await deliverPasswordReset(ctx, { email, token, tokenHash: await sha256Hex(token), now: Date.now() }),
    ).toBe("sent");
    const password = "a brand new passphrase";
    const res = await api("POST", "/api/v1/auth/password/reset", {
      body: { token, password, password_confirm: password },
      ip: "198.51.100.4",
    });
    expect(res.status).toBe(204);
    const found = await rows("auth.password_reset", user.id);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ actorType: "anonymous", targetType: "user", ip: "198.51.100.4" });
    expect(JSON.stringify(found[0])).not.toContain(token);
    expect(JSON.stringify(found[0])).not.toContain(password);
  });
});

describe("refresh-token reuse", () => {
  it("auth.refresh_token_reuse: one row naming the revoked session", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user, { userAgent: "Phone/1.0" });
    const refresh = (token: string, userAgent: string) =>
      api("POST", "/api/v1/auth/refresh", {
        body: { refresh_token: token },
        headers: { "user-agent": userAgent },
      });
    await jsonOf(await refresh(tokens.refreshToken, "Phone/1.0"), 200);
    const stolen = await problemOf(await refresh(tokens.refreshToken, "curl/8.0"), 401);
    expect(stolen.code).toBe("refresh_token_reused");
    // The same spent token again: the session is already revoked, nothing new happens.
    await problemOf(await refresh(tokens.refreshToken, "curl/8.0"), 401);
    const found = await rows("auth.refresh_token_reuse", user.id);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ targetType: "user", userAgent: "curl/8.0" });
    expect(found[0]?.after).toEqual({
      session_id: tokens.sessionId,
      revoked: true,
      reason: "refresh_token_reused",
    });
  });
});
