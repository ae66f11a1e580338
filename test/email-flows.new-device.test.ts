/**
 * New-device alerts: a sign-in from a device family or country the account has not
 * used before queues the `new_device` email (device, place, time, revoke link) and
 * marks the session in GET /users/me/sessions. Requests carry Cloudflare's `cf`
 * geo data the way the edge would, through the Worker's own fetch.
 */
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { signInDevices } from "../src/db/schema";
import { describeDevice, UNKNOWN_DEVICE } from "../src/lib/user-agent";
import { describePlace } from "../src/modules/auth/new-device.service";
import type { SessionDto } from "../src/modules/users/users.schemas";
import { type AuthTokensBody, createUser, DEFAULT_PASSWORD, newAddress } from "./support/factories";
import { apiWith, as, jsonOf, type Page, problemOf } from "./support/http";
import { deliver, mailboxPerTest } from "./support/mailbox";
import { claimsOf } from "./support/tokens";

const db = getDb(env);

const FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const FIREFOX_WINDOWS_NEWER =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:134.0) Gecko/20100101 Firefox/134.0";
const CHROME_ANDROID =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";

type Origin = { userAgent?: string; country?: string; city?: string; ip?: string };

/** A JSON POST through the Worker as the edge would deliver it, with `cf` geo data. */
function post(path: string, body: unknown, origin: Origin = {}) {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "cf-connecting-ip": origin.ip ?? "203.0.113.10",
  };
  if (origin.userAgent) headers["user-agent"] = origin.userAgent;
  return exports.default.fetch(`http://localhost${path}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    cf: { country: origin.country, city: origin.city },
  } as RequestInit);
}

const login = async (email: string, origin: Origin) =>
  jsonOf<AuthTokensBody>(
    await post("/api/v1/auth/login", { email, password: DEFAULT_PASSWORD }, origin),
    200,
  );

async function sessionsOf(accessToken: string): Promise<Map<string, SessionDto>> {
  const page = await jsonOf<Page<SessionDto>>(await as(accessToken).get("/api/v1/users/me/sessions"), 200);
  return new Map(page.data.map((session) => [session.id, session]));
}

const sessionIdOf = (tokens: AuthTokensBody) => claimsOf(tokens.access_token).sid as string;

/**
 * The real local D1, recording each round trip its sessions make: the SQL of a statement run on
 * its own, or of every statement of a batch.
 */
function roundTripRecordingD1() {
  const roundTrips: string[][] = [];
  const sqlOf = new WeakMap<D1PreparedStatement, string>();
  const recorded = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    sqlOf.set(statement, sql);
    const bind = statement.bind.bind(statement);
    statement.bind = (...values: unknown[]) => recorded(bind(...values), sql);
    for (const run of ["raw", "all", "first", "run"] as const) {
      const original = (statement[run] as (...args: unknown[]) => Promise<unknown>).bind(statement);
      (statement as unknown as Record<string, unknown>)[run] = (...args: unknown[]) => {
        roundTrips.push([sql]);
        return original(...args);
      };
    }
    return statement;
  };
  const binding = {
    withSession(start: string) {
      const session = env.DB.withSession(start);
      return {
        prepare: (sql: string) => recorded(session.prepare(sql), sql),
        batch(statements: D1PreparedStatement[]) {
          roundTrips.push(statements.map((statement) => sqlOf.get(statement) ?? "?"));
          return session.batch(statements);
        },
        getBookmark: () => session.getBookmark(),
      };
    },
  };
  return { DB: binding as unknown as D1Database, roundTrips };
}

const mailbox = mailboxPerTest();
afterEach(() => {
  vi.restoreAllMocks();
});

describe("new-device alerts", () => {
  it("registration sets the baseline; a new device is alerted with a revoke link and marked in the session list", async () => {
    const email = newAddress("devices");
    const lisbon = { userAgent: FIREFOX_WINDOWS, country: "PT", city: "Lisbon" };
    const registered = await jsonOf<AuthTokensBody>(
      await post(
        "/api/v1/auth/register",
        { email, password: DEFAULT_PASSWORD, password_confirm: DEFAULT_PASSWORD, first_name: "Ada" },
        lisbon,
      ),
      201,
    );
    // The first ever sign-in (the sign-up) alerts nobody, nor does the same browser after an update.
    await login(email, lisbon);
    await login(email, { ...lisbon, userAgent: FIREFOX_WINDOWS_NEWER });
    expect(mailbox.for(email, "new_device")).toHaveLength(0);

    const phone = await login(email, {
      userAgent: CHROME_ANDROID,
      country: "PT",
      city: "Porto",
      ip: "198.51.100.23",
    });
    const [alert] = mailbox.for(email, "new_device");
    if (alert?.template !== "new_device") throw new Error("no new_device email was queued");
    const phoneSession = sessionIdOf(phone);
    expect(alert.data).toMatchObject({
      name: "Ada",
      device: "Chrome on Android",
      location: "Porto, Portugal",
      ip: "198.51.100.23",
      signed_in_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const revokeUrl = new URL(alert.data.revoke_url);
    expect(revokeUrl.searchParams.get("revoke_session")).toBe(phoneSession);

    const sent = await deliver(alert);
    expect(sent.subject).toBe("New sign-in to your Edge API Platform account");
    expect(sent.text).toContain("Chrome on Android");
    expect(sent.text).toContain("Porto, Portugal");
    expect(sent.text).toContain(revokeUrl.toString());

    const listed = await sessionsOf(registered.access_token);
    expect(listed.get(phoneSession)).toMatchObject({ new_device: true, current: false });
    expect([...listed.values()].filter((session) => session.new_device)).toHaveLength(1);

    // The link's purpose: that one session signed out from a trusted device.
    const revoked = await as(registered.access_token).delete(`/api/v1/users/me/sessions/${phoneSession}`);
    expect(revoked.status).toBe(204);
    expect((await problemOf(await as(phone.access_token).get("/api/v1/users/me"), 401)).code).toBe(
      "invalid_token",
    );
  });

  it("alerts a known device in a new country once, not when the country is unknown", async () => {
    const { email, user } = await createUser();
    const paris = { userAgent: FIREFOX_WINDOWS, country: "FR", city: "Paris" };
    await login(email, paris); // baseline: the account's first recorded sign-in
    await login(email, { userAgent: FIREFOX_WINDOWS }); // no geo data: never "new"
    expect(mailbox.for(email, "new_device")).toHaveLength(0);

    const tokyo = { userAgent: FIREFOX_WINDOWS, country: "JP", city: "Tokyo" };
    await login(email, tokyo);
    await login(email, tokyo);
    const alerts = mailbox.for(email, "new_device");
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.data).toMatchObject({ device: "Firefox on Windows", location: "Tokyo, Japan" });

    const known = await db.select().from(signInDevices).where(eq(signInDevices.userId, user.id)).all();
    expect(known.map((row) => `${row.device}|${row.country}`).sort()).toEqual([
      "Firefox on Windows|",
      "Firefox on Windows|FR",
      "Firefox on Windows|JP",
    ]);
  });

  it("a sign-in from an origin seen within the hour reads one row and writes nothing; later it refreshes last_seen_at", async () => {
    const { email, user } = await createUser();
    const berlin = { userAgent: FIREFOX_WINDOWS, country: "DE", city: "Berlin", ip: "198.51.100.61" };
    await login(email, berlin);
    const lastSeen = async () =>
      (await db.select().from(signInDevices).where(eq(signInDevices.userId, user.id)).all()).map(
        (row) => [row.country, row.lastSeenAt.getTime()] as const,
      );
    const first = await lastSeen();
    expect(first).toHaveLength(1);
    const [[, seenAt]] = first as [readonly [string, number]];

    await login(email, berlin);
    expect(await lastSeen()).toEqual(first);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(seenAt + 61 * 60_000);
    await login(email, berlin);
    vi.useRealTimers();
    expect(await lastSeen()).toEqual([["DE", seenAt + 61 * 60_000]]);
    expect(mailbox.for(email, "new_device")).toHaveLength(0);
  });

  it("reads the origin's last sighting in the session's own batch: no round trip of its own", async () => {
    const { email } = await createUser();
    const d1 = roundTripRecordingD1();
    const signIn = async () =>
      expect(
        (
          await apiWith({ DB: d1.DB }, "POST", "/api/v1/auth/login", {
            body: { email, password: DEFAULT_PASSWORD },
            headers: { "user-agent": FIREFOX_WINDOWS },
            ip: "198.51.100.62",
          })
        ).status,
      ).toBe(200);
    await signIn();
    d1.roundTrips.length = 0;
    await signIn();
    const touchingDevices = d1.roundTrips.filter((trip) =>
      trip.some((sql) => sql.includes('"sign_in_devices"')),
    );
    expect(touchingDevices).toHaveLength(1);
    const [batch] = touchingDevices as [string[]];
    expect(batch[0]).toMatch(/^insert into "sessions"/);
    expect(batch.at(-1)).toMatch(/^select .* from "sign_in_devices"/);
  });

  it("a failing alert never fails the sign-in", async () => {
    const { email } = await createUser();
    await login(email, { userAgent: FIREFOX_WINDOWS, country: "DE" });
    vi.spyOn(env.EMAIL_QUEUE, "send").mockRejectedValue(new Error("queue unavailable"));
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const signedIn = await login(email, { userAgent: CHROME_ANDROID, country: "DE" });
    expect(signedIn.token_type).toBe("Bearer");
    const lines = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as { msg?: string });
    expect(lines.some((line) => line.msg === "new-device check failed")).toBe(true);
  });
});

describe("describeDevice", () => {
  it.each([
    [FIREFOX_WINDOWS, "Firefox on Windows"],
    [CHROME_ANDROID, "Chrome on Android"],
    [
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
      "Safari on macOS",
    ],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
      "Chrome on iOS",
    ],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
      "Edge on Windows",
    ],
    ["Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"],
    ["curl/8.5.0", "curl"],
    ["PostmanRuntime/7.42.0", "Postman"],
    ["Mozilla/5.0 (Macintosh)", "macOS device"],
    ["SomethingElse/1.0", UNKNOWN_DEVICE],
    ["", UNKNOWN_DEVICE],
    [undefined, UNKNOWN_DEVICE],
  ])("%s → %s", (userAgent, expected) => {
    expect(describeDevice(userAgent)).toBe(expected);
  });
});

describe("describePlace", () => {
  it("names the country and keeps the city", () => {
    expect(describePlace("Lisbon", "PT")).toBe("Lisbon, Portugal");
    expect(describePlace(undefined, "JP")).toBe("Japan");
    expect(describePlace(undefined, "")).toBeUndefined();
    expect(describePlace("Line\nbreak", "GB")).toBe("Line break, United Kingdom");
  });
});
