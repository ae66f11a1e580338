/**
 * Invitations through HTTP: inviting (email queued, in-app notification for
 * existing accounts), listing, revoking, and accepting — once, by the invited
 * verified address only, before it expires.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { invitations, memberships, notifications, type Organization, users } from "../src/db/schema";
import { sha256Hex } from "../src/lib/crypto";
import type { InvitationDto, MembershipDto } from "../src/modules/orgs/orgs.schemas";
import { createUser, type Person, person, signIn, type TestUser } from "./support/factories";
import { api, as, fieldsOf, jsonOf, type Page, problemOf } from "./support/http";
import { addMember, createApiKey, createInvitation, createOrg } from "./support/orgs";
import { securitySuite } from "./support/security";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
/** Only a verified address may accept: everyone here is verified unless a test says otherwise. */
const verifiedPerson = (overrides: Parameters<typeof person>[0] = {}) =>
  person({ emailVerifiedAt: new Date(), ...overrides });

const membershipsOf = (organizationId: string, userId: string) =>
  db
    .select()
    .from(memberships)
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("POST /orgs/{org_id}/invitations", () => {
  let owner: Person;
  let admin: Person;
  let org: Organization;
  beforeAll(async () => {
    owner = await verifiedPerson();
    admin = await verifiedPerson();
    org = await createOrg(owner.user, { name: "Acme Robotics" });
    await addMember(org, admin.user, "admin");
  });

  it("queues the invitation email with a working accept link, and stores only the token's hash", async () => {
    const send = vi.spyOn(env.EMAIL_QUEUE, "send");
    const res = await admin.api.post(`/api/v1/orgs/${org.id}/invitations`, {
      body: { email: "  Grace@Example.TEST ", role: "billing" },
    });
    const invitation = await jsonOf<InvitationDto>(res, 201);
    expect(res.headers.get("location")).toBe(`/api/v1/orgs/${org.id}/invitations/${invitation.id}`);
    expect(invitation).toMatchObject({
      email: "grace@example.test",
      role: "billing",
      status: "pending",
      invited_by: admin.user.id,
    });
    expect(JSON.stringify(invitation)).not.toMatch(/token|inv_/);

    expect(send).toHaveBeenCalledTimes(1);
    const message = send.mock.calls[0]?.[0] as {
      template: string;
      to: string;
      data: { accept_url: string; organization_name: string; role: string; expires_at: string };
    };
    expect(message).toMatchObject({ template: "org_invitation", to: "grace@example.test" });
    expect(message.data).toMatchObject({ organization_name: "Acme Robotics", role: "billing" });
    const acceptUrl = new URL(message.data.accept_url);
    expect(`${acceptUrl.origin}${acceptUrl.pathname}`).toBe("http://localhost:8787/invitations/accept");
    const token = acceptUrl.searchParams.get("token") ?? "";
    expect(token).toMatch(/^inv_[A-Za-z0-9_-]{43}$/);
    const [row] = await db.select().from(invitations).where(eq(invitations.id, invitation.id));
    expect(row?.tokenHash).toBe(await sha256Hex(token));
    expect(JSON.stringify(row)).not.toContain(token);
    // 7 days.
    const expiresIn = new Date(message.data.expires_at).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(7 * 24 * 3600 * 1000 - 60_000);
    expect(expiresIn).toBeLessThanOrEqual(7 * 24 * 3600 * 1000);

    // The link works: the invitee signs up with that address, verifies it, and accepts.
    const grace = await verifiedPerson({ email: "grace@example.test" });
    const accepted = await jsonOf<MembershipDto>(
      await grace.api.post("/api/v1/invitations/accept", { body: { token } }),
      200,
    );
    expect(accepted).toMatchObject({ role: "billing", organization: { id: org.id, role: "billing" } });
  });

  it("notifies an invitee who already has an account, in the app", async () => {
    const invitee = await verifiedPerson();
    const res = await owner.api.post(`/api/v1/orgs/${org.id}/invitations`, {
      body: { email: invitee.email, role: "member" },
    });
    const invitation = await jsonOf<InvitationDto>(res, 201);
    const rows = await db.select().from(notifications).where(eq(notifications.userId, invitee.user.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: "org_invitation", title: "Join Acme Robotics" });
    expect(rows[0]?.data).toMatchObject({
      organization_id: org.id,
      invitation_id: invitation.id,
      role: "member",
    });
    expect(rows[0]?.targetUrl).toMatch(/^http:\/\/localhost:8787\/invitations\/accept\?token=inv_/);
  });

  it("re-inviting an address replaces its open invitation: the old link stops working", async () => {
    const send = vi.spyOn(env.EMAIL_QUEUE, "send");
    const email = "twice@example.test";
    const first = await jsonOf<InvitationDto>(
      await owner.api.post(`/api/v1/orgs/${org.id}/invitations`, { body: { email, role: "member" } }),
      201,
    );
    await jsonOf(
      await owner.api.post(`/api/v1/orgs/${org.id}/invitations`, { body: { email, role: "admin" } }),
      201,
    );
    const tokens = send.mock.calls.map(
      (call) =>
        new URL((call[0] as { data: { accept_url: string } }).data.accept_url).searchParams.get("token") ??
        "",
    );
    const [old] = await db.select().from(invitations).where(eq(invitations.id, first.id));
    expect(old?.revokedAt).not.toBeNull();

    const invitee = await verifiedPerson({ email });
    const stale = await invitee.api.post("/api/v1/invitations/accept", { body: { token: tokens[0] } });
    expect((await problemOf(stale, 400)).code).toBe("invitation_invalid");
    const fresh = await invitee.api.post("/api/v1/invitations/accept", { body: { token: tokens[1] } });
    expect((await jsonOf<MembershipDto>(fresh, 200)).role).toBe("admin");
  });

  it("only owners invite owners; members cannot be invited again", async () => {
    const byAdmin = await admin.api.post(`/api/v1/orgs/${org.id}/invitations`, {
      body: { email: "boss@example.test", role: "owner" },
    });
    expect((await problemOf(byAdmin, 403)).code).toBe("forbidden");
    const byOwner = await owner.api.post(`/api/v1/orgs/${org.id}/invitations`, {
      body: { email: "boss@example.test", role: "owner" },
    });
    expect(byOwner.status).toBe(201);
    const member = await owner.api.post(`/api/v1/orgs/${org.id}/invitations`, {
      body: { email: admin.email.toUpperCase(), role: "member" },
    });
    const problem = await problemOf(member, 409);
    expect(problem.code).toBe("already_member");
    expect(fieldsOf(problem)).toEqual(["/email"]);
  });

  it.each([
    ["no email", { role: "member" }, "/email"],
    ["a malformed email", { email: "not-an-email", role: "member" }, "/email"],
    ["a huge email", { email: `${"a".repeat(300)}@example.test`, role: "member" }, "/email"],
    ["no role", { email: "a@example.test" }, "/role"],
    ["an unknown role", { email: "a@example.test", role: "god" }, "/role"],
    ["an unknown field", { email: "a@example.test", role: "member", message: "hi" }, "/message"],
  ])("refuses %s with 400 naming the field", async (_label, body, field) => {
    const problem = await problemOf(
      await owner.api.post(`/api/v1/orgs/${org.id}/invitations`, { body }),
      400,
    );
    expect(fieldsOf(problem)).toContain(field);
  });
});

describe("GET / DELETE invitations", () => {
  it("lists with filter[status], reads one, revokes (twice is fine), refuses to revoke an accepted one", async () => {
    const owner = await verifiedPerson();
    const org = await createOrg(owner.user);
    const pending = await createInvitation(org, { email: "pending@example.test" });
    const expired = await createInvitation(org, {
      email: "expired@example.test",
      expiresAt: new Date(Date.now() - 1000),
    });
    const accepted = await createInvitation(org, { email: "accepted@example.test" });
    await db
      .update(invitations)
      .set({ acceptedAt: new Date() })
      .where(eq(invitations.id, accepted.invitation.id));
    const base = `/api/v1/orgs/${org.id}/invitations`;

    const all = await jsonOf<Page<InvitationDto>>(await owner.api.get(base), 200);
    expect(all.meta.total).toBe(3);
    for (const [status, id] of [
      ["pending", pending.invitation.id],
      ["expired", expired.invitation.id],
      ["accepted", accepted.invitation.id],
    ] as const) {
      const page = await jsonOf<Page<InvitationDto>>(
        await owner.api.get(`${base}?filter[status]=${status}`),
        200,
      );
      expect(page.data.map((i) => [i.id, i.status])).toEqual([[id, status]]);
    }
    expect(fieldsOf(await problemOf(await owner.api.get(`${base}?filter[status]=lost`), 400))).toEqual([
      "filter[status]",
    ]);

    const one = await jsonOf<InvitationDto>(await owner.api.get(`${base}/${pending.invitation.id}`), 200);
    expect(one.email).toBe("pending@example.test");
    expect((await owner.api.delete(`${base}/${pending.invitation.id}`)).status).toBe(204);
    expect((await owner.api.delete(`${base}/${pending.invitation.id}`)).status).toBe(204);
    const revoked = await jsonOf<InvitationDto>(await owner.api.get(`${base}/${pending.invitation.id}`), 200);
    expect(revoked.status).toBe("revoked");
    const late = await owner.api.delete(`${base}/${accepted.invitation.id}`);
    expect((await problemOf(late, 409)).code).toBe("invitation_not_pending");
    const missing = await owner.api.get(`${base}/${crypto.randomUUID()}`);
    expect((await problemOf(missing, 404)).code).toBe("not_found");
  });
});

describe("POST /invitations/accept", () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await createUser();
  });
  const accept = (who: Person, token: string) =>
    who.api.post("/api/v1/invitations/accept", { body: { token } });

  it("makes the invitee a member once: accepting again is 400 invitation_used and adds nothing", async () => {
    const org = await createOrg(owner.user);
    const invitee = await verifiedPerson();
    const { token, invitation } = await createInvitation(org, { email: invitee.email, role: "admin" });
    const first = await jsonOf<MembershipDto>(await accept(invitee, token), 200);
    expect(first).toMatchObject({ role: "admin", organization: { id: org.id, role: "admin" } });
    const [row] = await db.select().from(invitations).where(eq(invitations.id, invitation.id));
    expect(row).toMatchObject({ acceptedBy: invitee.user.id });

    const again = await accept(invitee, token);
    expect((await problemOf(again, 400)).code).toBe("invitation_used");
    expect(await membershipsOf(org.id, invitee.user.id)).toHaveLength(1);
    // The new member can use the organization.
    expect((await invitee.api.get(`/api/v1/orgs/${org.id}`)).status).toBe(200);
  });

  it("accepting the same token twice at once adds one membership: one 200, one 400", async () => {
    const org = await createOrg(owner.user);
    const invitee = await verifiedPerson();
    const { token } = await createInvitation(org, { email: invitee.email });
    const answers = await Promise.all([
      accept(invitee, token),
      accept(invitee, token),
      accept(invitee, token),
    ]);
    expect(answers.map((res) => res.status).sort()).toEqual([200, 400, 400]);
    expect(await membershipsOf(org.id, invitee.user.id)).toHaveLength(1);
  });

  it("refuses an expired invitation (400 invitation_expired), including one that reached its 7 days", async () => {
    const org = await createOrg(owner.user);
    const invitee = await verifiedPerson();
    const old = await createInvitation(org, { email: invitee.email, expiresAt: new Date(Date.now() - 1) });
    const problem = await problemOf(await accept(invitee, old.token), 400);
    expect(problem.code).toBe("invitation_expired");
    expect(fieldsOf(problem)).toEqual(["/token"]);

    const org2 = await createOrg(owner.user);
    const soon = await createInvitation(org2, { email: invitee.email });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 7 * 24 * 3600 * 1000 + 1000);
    // A week later: a fresh sign-in (the old access token has expired too).
    const later = as((await signIn(invitee.user)).accessToken);
    const tooLate = await later.post("/api/v1/invitations/accept", { body: { token: soon.token } });
    expect((await problemOf(tooLate, 400)).code).toBe("invitation_expired");
    vi.useRealTimers();
    expect(await membershipsOf(org.id, invitee.user.id)).toEqual([]);
    expect(await membershipsOf(org2.id, invitee.user.id)).toEqual([]);
  });

  it("refuses unknown and revoked tokens (400 invitation_invalid)", async () => {
    const org = await createOrg(owner.user);
    const invitee = await verifiedPerson();
    const { token, invitation } = await createInvitation(org, { email: invitee.email });
    await db.update(invitations).set({ revokedAt: new Date() }).where(eq(invitations.id, invitation.id));
    expect((await problemOf(await accept(invitee, token), 400)).code).toBe("invitation_invalid");
    expect((await problemOf(await accept(invitee, "inv_made-up"), 400)).code).toBe("invitation_invalid");
    expect(await membershipsOf(org.id, invitee.user.id)).toEqual([]);
  });

  it("refuses another account (403 invitation_email_mismatch) and leaves the invitation usable", async () => {
    const org = await createOrg(owner.user);
    const invitee = await verifiedPerson();
    const intruder = await verifiedPerson();
    const { token } = await createInvitation(org, { email: invitee.email });
    const problem = await problemOf(await accept(intruder, token), 403);
    expect(problem.code).toBe("invitation_email_mismatch");
    expect(problem.detail).not.toContain(invitee.email);
    expect(await membershipsOf(org.id, intruder.user.id)).toEqual([]);
    expect((await accept(invitee, token)).status).toBe(200);
  });

  it("needs a verified email (403 email_not_verified), even for the invited address", async () => {
    const org = await createOrg(owner.user);
    const unverified = await person({ emailVerifiedAt: null });
    const { token } = await createInvitation(org, { email: unverified.email });
    expect((await problemOf(await accept(unverified, token), 403)).code).toBe("email_not_verified");
    await db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, unverified.user.id));
    expect((await accept(unverified, token)).status).toBe(200);
  });

  it("answers 409 already_member and keeps the invitation when the invitee is a member already", async () => {
    const org = await createOrg(owner.user);
    const invitee = await verifiedPerson();
    await addMember(org, invitee.user, "billing");
    const { token, invitation } = await createInvitation(org, { email: invitee.email, role: "admin" });
    expect((await problemOf(await accept(invitee, token), 409)).code).toBe("already_member");
    const [row] = await db.select().from(invitations).where(eq(invitations.id, invitation.id));
    expect(row?.acceptedAt).toBeNull();
    expect((await membershipsOf(org.id, invitee.user.id))[0]?.role).toBe("billing");
  });

  it("is for people: an API key gets 403; a missing or huge token is a 400", async () => {
    const org = await createOrg(owner.user);
    const { secret } = await createApiKey(org, { scopes: ["org:read"] });
    const res = await api("POST", "/api/v1/invitations/accept", { token: secret, body: { token: "inv_x" } });
    expect((await problemOf(res, 403)).code).toBe("forbidden");
    const invitee = await verifiedPerson();
    expect(
      fieldsOf(await problemOf(await invitee.api.post("/api/v1/invitations/accept", { body: {} }), 400)),
    ).toEqual(["/token"]);
    const huge = await accept(invitee, "x".repeat(201));
    expect(fieldsOf(await problemOf(huge, 400))).toEqual(["/token"]);
  });

  securitySuite("POST /api/v1/invitations/accept", {
    method: "POST",
    path: "/api/v1/invitations/accept",
    body: { token: "inv_anything" },
  });
});

describe("security", () => {
  const org = crypto.randomUUID();
  const invitation = crypto.randomUUID();
  const someoneElses = (suffix: string) => async () => {
    const other = await createUser();
    const theirs = await createOrg(other.user);
    const { invitation: theirInvitation } = await createInvitation(theirs, { email: "their@example.test" });
    const me = await verifiedPerson();
    return {
      path: `/api/v1/orgs/${theirs.id}/invitations${suffix.replace("{id}", theirInvitation.id)}`,
      headers: { authorization: `Bearer ${me.token}` },
    };
  };
  securitySuite("POST /api/v1/orgs/{org_id}/invitations", {
    method: "POST",
    path: `/api/v1/orgs/${org}/invitations`,
    body: { email: "a@example.test", role: "member" },
    notOwned: someoneElses(""),
  });
  securitySuite("GET /api/v1/orgs/{org_id}/invitations", {
    method: "GET",
    path: `/api/v1/orgs/${org}/invitations`,
    notOwned: someoneElses(""),
  });
  securitySuite("GET /api/v1/orgs/{org_id}/invitations/{invitation_id}", {
    method: "GET",
    path: `/api/v1/orgs/${org}/invitations/${invitation}`,
    notOwned: someoneElses("/{id}"),
  });
  securitySuite("DELETE /api/v1/orgs/{org_id}/invitations/{invitation_id}", {
    method: "DELETE",
    path: `/api/v1/orgs/${org}/invitations/${invitation}`,
    notOwned: someoneElses("/{id}"),
  });
});
