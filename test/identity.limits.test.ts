/**
 * The edges of identity, each an attack that used to work:
 *
 * - invitation spam: an unverified account mailing strangers text of its choosing, without
 *   limit. Now only verified accounts invite, INVITATIONS_PER_ORG_PER_DAY per organization,
 *   and the names in the email are plain, short text;
 * - revocation: a disabled account, a demoted staff member and a revoked API key stop at
 *   once on this isolate, and staff routes read the account from D1 on every request;
 * - a 500 from input: a search `q` over 50 bytes (D1's LIKE pattern limit);
 * - realtime: mark_read with the documented maximum of ids, and an access token passed as
 *   a WebSocket ticket (a refused credential is 401, not 400).
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { users } from "../src/db/schema";
import { forgetLocalRevocations, revokedSessionKey } from "../src/modules/auth/sessions.service";
import { notify } from "../src/modules/notifications/notifications.service";
import type { UserDto } from "../src/modules/users/users.schemas";
import { createStaff, createUser, newAddress, serviceContext, signIn } from "./support/factories";
import { api, apiWith, as, jsonOf, type Page, problemOf } from "./support/http";
import { mailboxPerTest } from "./support/mailbox";
import { createApiKey, createOrg } from "./support/orgs";
import { openSocket, upgrade } from "./support/sockets";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const mailbox = mailboxPerTest();

const invite = (token: string, orgId: string, email = newAddress("guest")) =>
  as(token).post(`/api/v1/orgs/${orgId}/invitations`, { body: { email, role: "member" } });

describe("invitation spam", () => {
  it("an unverified account cannot invite anyone (403 email_not_verified), and no email leaves", async () => {
    const { user } = await createUser({ emailVerifiedAt: null });
    const org = await createOrg(user);
    const guest = "unwanted@example.com";
    const res = await invite((await signIn(user)).accessToken, org.id, guest);
    expect((await problemOf(res, 403)).code).toBe("email_not_verified");
    expect(mailbox.for(guest)).toHaveLength(0);
  });

  it("an organization sends at most INVITATIONS_PER_ORG_PER_DAY in 24 hours, even in a concurrent burst", async () => {
    const { user } = await createUser({ emailVerifiedAt: new Date() });
    const org = await createOrg(user);
    const token = (await signIn(user)).accessToken;
    const send = (i: number) =>
      apiWith({ INVITATIONS_PER_ORG_PER_DAY: "3" }, "POST", `/api/v1/orgs/${org.id}/invitations`, {
        token,
        body: { email: `burst-${i}-${org.id.slice(-6)}@example.com`, role: "member" },
      });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(i)));
    expect(answers.filter((res) => res.status === 201)).toHaveLength(3);
    const refused = answers.filter((res) => res.status === 429);
    expect(refused).toHaveLength(7);
    const problem = await problemOf(refused[0] as Response, 429);
    expect(problem.code).toBe("invitation_limit_reached");
    const retryAfter = Number((refused[0] as Response).headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(86_000);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(
      mailbox.queued.filter(
        (message) => message.template === "org_invitation" && message.to.includes(org.id.slice(-6)),
      ),
    ).toHaveLength(3);
  });

  it("defaults to 50 a day", async () => {
    const { getConfig } = await import("../src/env");
    expect(getConfig(env).INVITATIONS_PER_ORG_PER_DAY).toBe(50);
  });

  it("puts the inviter's and the organization's names in the email as short plain text", async () => {
    const pitch =
      "Claim your prize at evil.example \u202Egnp.exe\u202C and more and more and more and more text";
    const { user } = await createUser({
      emailVerifiedAt: new Date(),
      firstName: pitch,
      lastName: "\u0007Bell",
    });
    const org = await createOrg(user, { name: `${"Acme ".repeat(30)}Corp` });
    const guest = newAddress("plain");
    expect((await invite((await signIn(user)).accessToken, org.id, guest)).status).toBe(201);
    const sent = await mailbox.next(guest, "org_invitation");
    for (const name of [sent.data.inviter_name, sent.data.organization_name]) {
      expect([...name].length).toBeLessThanOrEqual(60);
      expect(name).not.toMatch(/[\p{Cc}\p{Cf}]/u);
    }
    expect(sent.data.inviter_name.endsWith("…")).toBe(true);
  });
});

describe("revocation takes effect at once", () => {
  it("a disabled account's access token stops on this isolate at once, and everywhere through KV", async () => {
    const staff = await createStaff({ emailVerifiedAt: new Date() });
    const target = await createUser();
    const tokens = await signIn(target.user);
    await jsonOf(
      await as((await signIn(staff.user)).accessToken).patch(`/admin/v1/users/${target.user.id}`, {
        body: { is_active: false },
      }),
      200,
    );
    expect((await problemOf(await as(tokens.accessToken).get("/api/v1/users/me"), 401)).code).toBe(
      "invalid_token",
    );
    // Another isolate: no local memory, only KV.
    forgetLocalRevocations();
    expect(await env.AUTH_KV.get(revokedSessionKey(tokens.sessionId))).toBe("account_disabled");
    expect((await as(tokens.accessToken).get("/api/v1/users/me")).status).toBe(401);
  });

  it("a demoted staff member is refused on staff routes by the D1 check, even where the revocation has not arrived", async () => {
    const staff = await createStaff({ emailVerifiedAt: new Date() });
    const tokens = await signIn(staff.user);
    expect((await as(tokens.accessToken).get("/admin/v1/users")).status).toBe(200);
    // The demotion as an isolate that has not heard of any revocation sees it: only D1 knows.
    await db.update(users).set({ isStaff: false }).where(eq(users.id, staff.user.id));
    const res = await as(tokens.accessToken).get("/admin/v1/users");
    expect((await problemOf(res, 403)).detail).toMatch(/staff/i);
    // And a disabled one is not signed in at all.
    await db.update(users).set({ isStaff: true, isActive: false }).where(eq(users.id, staff.user.id));
    expect((await problemOf(await as(tokens.accessToken).get("/admin/v1/users"), 401)).code).toBe(
      "invalid_token",
    );
  });

  it("a revoked API key stops at once", async () => {
    const owner = await createUser({ emailVerifiedAt: new Date() });
    const org = await createOrg(owner.user);
    const key = await createApiKey(org, { createdBy: owner.user, scopes: ["org:read"] });
    const read = () => api("GET", `/api/v1/orgs/${org.id}`, { headers: { "x-api-key": key.secret } });
    expect((await read()).status).toBe(200);
    const revoked = await as((await signIn(owner.user)).accessToken).delete(
      `/api/v1/orgs/${org.id}/api-keys/${key.key.id}`,
    );
    expect(revoked.status).toBe(204);
    expect((await read()).status).toBe(401);
  });
});

describe("search never answers 500, whatever the length of q", () => {
  const lengths = [1, 49, 50, 51, 100];
  const routes = [
    "/admin/v1/users",
    "/api/v1/users",
    "/admin/v1/organizations",
    "/admin/v1/pre-registrations",
    "/api/v1/pre-registrations",
  ];

  it.each(routes)(
    "%s answers 200 for q of 1, 49, 50, 51 and 100 characters, ASCII and multi-byte",
    async (route) => {
      const staff = as((await signIn((await createStaff({ emailVerifiedAt: new Date() })).user)).accessToken);
      for (const length of lengths) {
        for (const unit of ["a", "é", "字", "😀"]) {
          const q = unit.repeat(length);
          const res = await staff.get(`${route}?q=${encodeURIComponent(q)}`);
          expect(res.status, `${route} q=${unit}×${length}`).toBe(200);
        }
      }
    },
  );

  it("still finds what a long q names, and treats % and _ as themselves", async () => {
    const long = `Maximilian-${"x".repeat(52)}`;
    const person = await createUser({ firstName: long });
    await createUser({ firstName: "Percent%Sign_Under" });
    const staff = as((await signIn((await createStaff({ emailVerifiedAt: new Date() })).user)).accessToken);
    const found = await jsonOf<Page<UserDto>>(
      await staff.get(`/admin/v1/users?q=${encodeURIComponent(long.toUpperCase())}`),
      200,
    );
    expect(found.data.map((user) => user.id)).toEqual([person.user.id]);
    const literal = await jsonOf<Page<UserDto>>(
      await staff.get(`/admin/v1/users?q=${encodeURIComponent("t%s")}`),
      200,
    );
    expect(literal.data.map((user) => user.first_name)).toEqual(["Percent%Sign_Under"]);
  });
});

describe("realtime edges", () => {
  it("mark_read with 100 ids (the documented maximum) answers `read`", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user);
    const sent = [];
    for (let i = 0; i < 100; i++) {
      sent.push(
        await notify(serviceContext(), user.id, { type: "task_completed", title: `N${i}`, message: "done" }),
      );
    }
    const socket = await openSocket("", { token: tokens.accessToken });
    await socket.next("hello");
    socket.send(JSON.stringify({ type: "mark_read", ids: sent.map((n) => n.id) }));
    const read = await socket.next("read");
    expect(read.ids).toHaveLength(100);
    expect(read.unread_count).toBe(0);
    socket.close();
  });

  it("an access token passed as ?ticket= is a refused credential: 401, not 400", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user);
    const res = await upgrade(`?ticket=${encodeURIComponent(tokens.accessToken)}`);
    expect((await problemOf(res, 401)).code).toBe("invalid_ws_ticket");
  });
});
