/**
 * Feature flags: stable percentage rollout, allow lists, the kill switch, the
 * per-isolate cache, staff CRUD (audited) and what callers read at
 * GET /api/v1/feature-flags and through flag(c, key).
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { getDb } from "../src/db/client";
import { type FeatureFlag, featureFlags, type Organization, type User } from "../src/db/schema";
import { uuidv7 } from "../src/lib/ids";
import { evaluateFlag, rolloutBucket } from "../src/modules/feature-flags/feature-flags.evaluate";
import type { FeatureFlagDto } from "../src/modules/feature-flags/feature-flags.schemas";
import { flag } from "../src/modules/feature-flags/flag";
import { FLAG_CACHE_TTL_MS, flagCacheClock } from "../src/modules/feature-flags/flag-cache";
import { auditRowsOf } from "./support/audit";
import { createStaff, createUser, signIn } from "./support/factories";
import { api, apiWith, as, jsonOf, type Page, problemOf } from "./support/http";
import { addMember, apiKeyHeaders, createApiKey, createOrg } from "./support/orgs";

const db = getDb(env);
afterEach(() => vi.restoreAllMocks());

const flagRow = (over: Partial<FeatureFlag> = {}) => ({
  key: "checkout_v2",
  enabled: true,
  rolloutPercentage: 30,
  allowUserIds: [] as string[],
  allowOrgIds: [] as string[],
  ...over,
});
const person = (id: string, orgIds: string[] = []) => ({ bucketId: id, userId: id, orgIds });

describe("rollout", () => {
  // Fixed ids (not fresh random ones), so the share each percentage lets in is the same on every run.
  const ids = Array.from(
    { length: 1000 },
    (_, i) => `01936f4a-0000-7000-8000-${i.toString(16).padStart(12, "0")}`,
  );

  it("puts a stable ~30 % of 1000 ids in at 30 %", async () => {
    const first = await Promise.all(ids.map((id) => evaluateFlag(flagRow(), person(id))));
    const share = first.filter(Boolean).length / ids.length;
    expect(share).toBeGreaterThanOrEqual(0.25);
    expect(share).toBeLessThanOrEqual(0.35);
    const again = await Promise.all(ids.map((id) => evaluateFlag(flagRow(), person(id))));
    expect(again).toEqual(first);
  });

  it("only adds principals as the percentage grows, and depends on the flag", async () => {
    const at30 = await Promise.all(ids.map((id) => evaluateFlag(flagRow(), person(id))));
    const at60 = await Promise.all(
      ids.map((id) => evaluateFlag(flagRow({ rolloutPercentage: 60 }), person(id))),
    );
    at30.forEach((on, i) => {
      if (on) expect(at60[i]).toBe(true);
    });
    const other = await Promise.all(
      ids.map((id) => evaluateFlag(flagRow({ key: "other_flag" }), person(id))),
    );
    expect(other).not.toEqual(at30);
  });

  it("is 0 % and 100 % at the ends, and buckets are 0–99", async () => {
    const zero = await Promise.all(
      ids.map((id) => evaluateFlag(flagRow({ rolloutPercentage: 0 }), person(id))),
    );
    const all = await Promise.all(
      ids.map((id) => evaluateFlag(flagRow({ rolloutPercentage: 100 }), person(id))),
    );
    expect(zero.every((on) => !on)).toBe(true);
    expect(all.every(Boolean)).toBe(true);
    const buckets = await Promise.all(ids.slice(0, 200).map((id) => rolloutBucket("x", id)));
    expect(Math.min(...buckets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...buckets)).toBeLessThanOrEqual(99);
  });
});

describe("allow lists and the kill switch", () => {
  it("allow lists override the rollout; disabled overrides everything", async () => {
    const user = uuidv7();
    const org = uuidv7();
    const stranger = uuidv7();
    const closed = flagRow({ rolloutPercentage: 0, allowUserIds: [user], allowOrgIds: [org] });
    expect(await evaluateFlag(closed, person(user))).toBe(true);
    expect(await evaluateFlag(closed, person(stranger, [org]))).toBe(true);
    expect(await evaluateFlag(closed, { bucketId: org, userId: null, orgIds: [org] })).toBe(true);
    expect(await evaluateFlag(closed, person(stranger))).toBe(false);
    const off = { ...closed, enabled: false, rolloutPercentage: 100 };
    for (const subject of [person(user), person(stranger, [org]), person(stranger)]) {
      expect(await evaluateFlag(off, subject)).toBe(false);
    }
  });

  it("gives callers without an identity only flags that are on for everyone", async () => {
    const nobody = { bucketId: null, userId: null, orgIds: [] };
    expect(await evaluateFlag(flagRow({ rolloutPercentage: 99 }), nobody)).toBe(false);
    expect(await evaluateFlag(flagRow({ rolloutPercentage: 100 }), nobody)).toBe(true);
  });
});

describe("staff CRUD at /admin/v1/feature-flags", () => {
  let staffId: string;
  let staff: ReturnType<typeof as>;
  beforeAll(async () => {
    const { user } = await createStaff();
    staffId = user.id;
    staff = as((await signIn(user)).accessToken);
  });

  const put = (key: string, body: unknown, requestId = crypto.randomUUID()) =>
    staff.put(`/admin/v1/feature-flags/${key}`, { body, headers: { "x-request-id": requestId } });

  it("creates (201 + Location), replaces (200) and deletes (204), one audit row each", async () => {
    const allowed = uuidv7();
    const created = await put(
      "dark_mode",
      { enabled: true, rollout_percentage: 10, allow_user_ids: [allowed, allowed], description: "Dark UI" },
      "flag-create",
    );
    const body = await jsonOf<FeatureFlagDto>(created, 201);
    expect(created.headers.get("location")).toBe("/admin/v1/feature-flags/dark_mode");
    expect(body).toMatchObject({
      key: "dark_mode",
      enabled: true,
      rollout_percentage: 10,
      allow_user_ids: [allowed],
      allow_org_ids: [],
      description: "Dark UI",
      updated_by: staffId,
    });
    const [createRow, ...extra] = await auditRowsOf("flag-create");
    expect(extra).toHaveLength(0);
    expect(createRow).toMatchObject({ action: "feature_flag.create", targetId: "dark_mode", before: null });
    expect(createRow?.after).toMatchObject({ key: "dark_mode", rollout_percentage: 10 });

    const replaced = await jsonOf<FeatureFlagDto>(
      await put("dark_mode", { enabled: false, rollout_percentage: 50 }, "flag-update"),
      200,
    );
    expect(replaced).toMatchObject({
      enabled: false,
      rollout_percentage: 50,
      allow_user_ids: [],
      description: "",
    });
    expect(replaced.created_at).toBe(body.created_at);
    const [updateRow] = await auditRowsOf("flag-update");
    expect(updateRow).toMatchObject({ action: "feature_flag.update" });
    expect(updateRow?.before).toMatchObject({
      enabled: true,
      rollout_percentage: 10,
      allow_user_ids: [allowed],
    });
    expect(updateRow?.after).toMatchObject({ enabled: false, rollout_percentage: 50, allow_user_ids: [] });

    const list = await jsonOf<Page<FeatureFlagDto>>(
      await staff.get("/admin/v1/feature-flags?filter[enabled]=false"),
      200,
    );
    expect(list.data.map((f) => f.key)).toContain("dark_mode");
    expect(
      (await jsonOf<FeatureFlagDto>(await staff.get("/admin/v1/feature-flags/dark_mode"), 200)).key,
    ).toBe("dark_mode");

    const deleted = await staff.delete("/admin/v1/feature-flags/dark_mode", {
      headers: { "x-request-id": "flag-del" },
    });
    expect(deleted.status).toBe(204);
    const [deleteRow] = await auditRowsOf("flag-del");
    expect(deleteRow).toMatchObject({ action: "feature_flag.delete", after: null });
    expect(deleteRow?.before).toMatchObject({ key: "dark_mode", enabled: false });
    await problemOf(await staff.delete("/admin/v1/feature-flags/dark_mode"), 404);
    await problemOf(await staff.get("/admin/v1/feature-flags/dark_mode"), 404);
  });

  it("answers 400 naming the field or parameter for bad input", async () => {
    const ok = { enabled: true, rollout_percentage: 5 };
    const bodies: Array<[unknown, string]> = [
      [{ rollout_percentage: 5 }, "/enabled"],
      [{ ...ok, rollout_percentage: 101 }, "/rollout_percentage"],
      [{ ...ok, rollout_percentage: -1 }, "/rollout_percentage"],
      [{ ...ok, rollout_percentage: 2.5 }, "/rollout_percentage"],
      [{ ...ok, enabled: "yes" }, "/enabled"],
      [{ ...ok, allow_user_ids: ["bob"] }, "/allow_user_ids/0"],
      [{ ...ok, allow_org_ids: Array.from({ length: 1001 }, () => uuidv7()) }, "/allow_org_ids"],
      [{ ...ok, description: "x".repeat(501) }, "/description"],
    ];
    for (const [body, pointer] of bodies) {
      const problem = await problemOf(await put("valid_key", body), 400);
      expect(
        problem.errors?.map((e) => e.pointer),
        JSON.stringify(body).slice(0, 60),
      ).toContain(pointer);
    }
    const extra = await problemOf(await put("valid_key", { ...ok, percentage: 5 }), 400);
    expect(extra.code).toBe("validation_failed");
    for (const key of ["Upper", "has space", "9starts_with_digit", "x".repeat(65)]) {
      const problem = await problemOf(await put(encodeURIComponent(key), ok), 400);
      expect(problem.errors?.[0]).toMatchObject({ parameter: "key", location: "path" });
    }
    await problemOf(await staff.get("/admin/v1/feature-flags?filter[rollout]=5"), 400);
    expect(await db.select().from(featureFlags).where(eq(featureFlags.key, "valid_key"))).toEqual([]);
  });
});

describe("GET /api/v1/feature-flags and flag(c, key)", () => {
  let staff: ReturnType<typeof as>;
  let member: User;
  let outsider: User;
  let org: Organization;
  let memberToken: string;
  let outsiderToken: string;
  beforeAll(async () => {
    staff = as((await signIn((await createStaff()).user)).accessToken);
    member = (await createUser()).user;
    outsider = (await createUser()).user;
    org = await createOrg((await createUser()).user);
    await addMember(org, member, "member");
    memberToken = (await signIn(member)).accessToken;
    outsiderToken = (await signIn(outsider)).accessToken;
    await jsonOf(
      await staff.put("/admin/v1/feature-flags/beta_reports", {
        body: { enabled: true, rollout_percentage: 0, allow_org_ids: [org.id] },
      }),
      201,
    );
    await jsonOf(
      await staff.put("/admin/v1/feature-flags/everyone", {
        body: { enabled: true, rollout_percentage: 100 },
      }),
      201,
    );
    await jsonOf(
      await staff.put("/admin/v1/feature-flags/killed", {
        body: { enabled: false, rollout_percentage: 100, allow_user_ids: [member.id] },
      }),
      201,
    );
  });

  const flagsOf = async (options: Parameters<typeof api>[2]) =>
    (
      await jsonOf<{ flags: Record<string, boolean> }>(
        await api("GET", "/api/v1/feature-flags", options),
        200,
      )
    ).flags;

  it("evaluates every flag for the caller: org allow list, 100 %, kill switch", async () => {
    expect(await flagsOf({ token: memberToken })).toMatchObject({
      beta_reports: true,
      everyone: true,
      killed: false,
    });
    expect(await flagsOf({ token: outsiderToken })).toMatchObject({
      beta_reports: false,
      everyone: true,
      killed: false,
    });
  });

  it("evaluates an API key as its organization", async () => {
    const key = await createApiKey(org, { scopes: ["org:read"] });
    expect(await flagsOf({ headers: apiKeyHeaders(key.secret) })).toMatchObject({ beta_reports: true });
  });

  it("answers 401 without credentials", async () => {
    const res = await api("GET", "/api/v1/feature-flags");
    expect((await problemOf(res, 401)).code).toBe("unauthorized");
  });

  it("agrees with the rollout function for a rolled-out flag", async () => {
    await jsonOf(
      await staff.put("/admin/v1/feature-flags/half", { body: { enabled: true, rollout_percentage: 50 } }),
      201,
    );
    for (const user of [member, outsider]) {
      const token = user === member ? memberToken : outsiderToken;
      const expected = (await rolloutBucket("half", user.id)) < 50;
      expect((await flagsOf({ token })).half, user.id).toBe(expected);
    }
  });

  it("flag(c, key) answers for the request's caller, and an unknown key is off", async () => {
    const app = createApp();
    app.get("/flag-probe", async (c) =>
      c.json({ beta: await flag(c, "beta_reports"), unknown: await flag(c, "no_such_flag") }),
    );
    const probe = async (token: string) =>
      (await app.request("/flag-probe", { headers: { authorization: `Bearer ${token}` } }, env)).json();
    expect(await probe(memberToken)).toEqual({ beta: true, unknown: false });
    expect(await probe(outsiderToken)).toEqual({ beta: false, unknown: false });
  });

  it("serves other isolates' changes once the cached copy is older than the TTL", async () => {
    let now = Date.now();
    vi.spyOn(flagCacheClock, "now").mockImplementation(() => now);
    expect((await flagsOf({ token: outsiderToken })).everyone).toBe(true);
    // Another isolate changed the flag: this one still has its cached copy.
    await db.update(featureFlags).set({ enabled: false }).where(eq(featureFlags.key, "everyone"));
    now += FLAG_CACHE_TTL_MS - 1_000;
    expect((await flagsOf({ token: outsiderToken })).everyone).toBe(true);
    now += 2_000;
    expect((await flagsOf({ token: outsiderToken })).everyone).toBe(false);
    // A change made through this isolate is seen at once.
    await jsonOf(
      await staff.put("/admin/v1/feature-flags/everyone", {
        body: { enabled: true, rollout_percentage: 100 },
      }),
      200,
    );
    expect((await flagsOf({ token: outsiderToken })).everyone).toBe(true);
  });
});

describe("the flag cache under read replicas", () => {
  /**
   * The real local D1 (it has no replicas), recording where each session that refreshes the
   * cache (reads every flag) started. `holdReads()` keeps such reads waiting until released,
   * to land a write meanwhile.
   */
  function recordingD1() {
    const flagReadStarts: string[] = [];
    let hold: Promise<void> | undefined;
    /** The statement, running only once `hold` (if any) is released; bind() keeps it so. */
    const held = (statement: D1PreparedStatement): D1PreparedStatement =>
      new Proxy(statement, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (typeof value !== "function") return value;
          if (prop === "bind") return (...values: unknown[]) => held(value.apply(target, values));
          if (prop === "raw" || prop === "all" || prop === "first" || prop === "run")
            return async (...args: unknown[]) => {
              await hold;
              return value.apply(target, args);
            };
          return value.bind(target);
        },
      });
    const binding = {
      withSession(start: string) {
        const session = env.DB.withSession(start);
        return {
          prepare(query: string) {
            const statement = session.prepare(query);
            // The cache's refresh: every flag in key order (the admin routes read one flag by key).
            if (!/^select .* from "feature_flags" order by/i.test(query)) return statement;
            flagReadStarts.push(start);
            return held(statement);
          },
          batch: (statements: D1PreparedStatement[]) => session.batch(statements),
          getBookmark: () => session.getBookmark(),
        };
      },
    };
    return {
      DB: binding as unknown as D1Database,
      flagReadStarts,
      holdReads() {
        let release!: () => void;
        hold = new Promise<void>((resolve) => {
          release = resolve;
        });
        return () => {
          hold = undefined;
          release();
        };
      },
    };
  }

  let staffToken: string;
  let userToken: string;
  beforeAll(async () => {
    staffToken = (await signIn((await createStaff()).user)).accessToken;
    userToken = (await signIn((await createUser()).user)).accessToken;
  });

  const evaluate = async (d1: { DB: D1Database }) =>
    (
      await jsonOf<{ flags: Record<string, boolean> }>(
        await apiWith({ DB: d1.DB }, "GET", "/api/v1/feature-flags", { token: userToken }),
        200,
      )
    ).flags;
  const putFlag = (d1: { DB: D1Database }, key: string, enabled: boolean) =>
    apiWith({ DB: d1.DB }, "PUT", `/admin/v1/feature-flags/${key}`, {
      token: staffToken,
      body: { enabled, rollout_percentage: 100 },
    });

  it("refreshes from where it last read, never from wherever the request's own session starts", async () => {
    let now = Date.now();
    vi.spyOn(flagCacheClock, "now").mockImplementation(() => now);
    const d1 = recordingD1();
    await evaluate(d1);
    // The first read may come from any replica; the GET's own session (first-unconstrained) is not used.
    expect(d1.flagReadStarts).toEqual(["first-unconstrained"]);
    now += FLAG_CACHE_TTL_MS + 1;
    await evaluate(d1);
    expect(d1.flagReadStarts).toHaveLength(2);
    // The second starts at the first one's bookmark: a replica further behind may not answer it.
    expect(d1.flagReadStarts[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
  });

  it("after a change made in this isolate, reads from the write's bookmark and serves the change", async () => {
    const d1 = recordingD1();
    const key = `replica_${uuidv7().slice(-8)}`;
    expect((await evaluate(d1))[key]).toBeUndefined();
    const written = await putFlag(d1, key, true);
    expect(written.status).toBe(201);
    const writeBookmark = written.headers.get("x-d1-bookmark");
    expect(writeBookmark).toMatch(/^[0-9a-f]{8}-/);
    expect((await evaluate(d1))[key]).toBe(true);
    expect(d1.flagReadStarts.at(-1)).toBe(writeBookmark);
  });

  it("does not keep a read that was in flight when a change landed here", async () => {
    const d1 = recordingD1();
    const key = `inflight_${uuidv7().slice(-8)}`;
    await jsonOf(await putFlag(d1, key, true), 201);
    const release = d1.holdReads();
    const before = d1.flagReadStarts.length;
    const inFlight = evaluate(d1);
    await vi.waitFor(() => expect(d1.flagReadStarts.length).toBe(before + 1));
    // The change commits while that read waits (on a replica it could have read the old row).
    await jsonOf(await putFlag(d1, key, false), 200);
    release();
    await inFlight;
    // Its result answered its own request only: the next evaluation reads again, from the write.
    expect((await evaluate(d1))[key]).toBe(false);
    expect(d1.flagReadStarts).toHaveLength(before + 2);
  });
});
