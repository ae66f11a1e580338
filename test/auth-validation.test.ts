/**
 * Bad input on the identity routes: every malformed, oversized, mistyped or
 * conflicting body is a 400/409/413/415 problem that names the field; never a 500.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type AuthTokensBody, createUser, DEFAULT_PASSWORD, signIn } from "./support/factories";
import { api, fieldsOf, jsonOf, problemOf } from "./support/http";

// Each sign-in pays one scrypt (~150 ms, more when every test file runs at once).
vi.setConfig({ testTimeout: 30_000 });

const register = (body: unknown) => api("POST", "/api/v1/auth/register", { body });

const valid = {
  email: "new.person@example.test",
  password: "a perfectly fine passphrase",
  password_confirm: "a perfectly fine passphrase",
};

describe("POST /auth/register refuses bad input", () => {
  let existing: Awaited<ReturnType<typeof createUser>>;
  beforeAll(async () => {
    existing = await createUser({ email: "taken@example.test", username: "Taken_Name" });
  });

  it("names every missing field", async () => {
    const problem = await problemOf(await register({}), 400);
    expect(problem.code).toBe("validation_failed");
    expect(fieldsOf(problem).sort()).toEqual(["/email", "/password", "/password_confirm"]);
  });

  it("refuses unknown fields, such as a self-granted staff flag", async () => {
    const problem = await problemOf(await register({ ...valid, is_staff: true, role: "admin" }), 400);
    expect(problem.errors).toEqual([
      { pointer: "/is_staff", detail: "Unknown field." },
      { pointer: "/role", detail: "Unknown field." },
    ]);
  });

  it.each([
    ["email as a number", { ...valid, email: 42 }, "/email"],
    ["password as an array", { ...valid, password: ["a", "b"] }, "/password"],
    ["username as an object", { ...valid, username: { $ne: "" } }, "/username"],
    ["email null", { ...valid, email: null }, "/email"],
    ["not an email", { ...valid, email: "not-an-email" }, "/email"],
    ["a 10 KB email", { ...valid, email: `${"a".repeat(10_000)}@example.test` }, "/email"],
    ["a username with spaces", { ...valid, username: "two words" }, "/username"],
    ["a username with @", { ...valid, username: "me@home" }, "/username"],
    ["a username too short", { ...valid, username: "ab" }, "/username"],
    ["a first name of 10 KB", { ...valid, first_name: "x".repeat(10_000) }, "/first_name"],
    [
      "a mismatched confirmation",
      { ...valid, password_confirm: "a perfectly fine passphrasE" },
      "/password_confirm",
    ],
  ])("%s → 400 naming the field", async (_label, body, pointer) => {
    const problem = await problemOf(await register(body), 400);
    expect(fieldsOf(problem)).toEqual([pointer]);
  });

  it("answers a one-million-character password with a clean 400 naming /password", async () => {
    const huge = "p".repeat(1_000_000);
    const res = await register({ ...valid, password: huge, password_confirm: "x" });
    const problem = await problemOf(res, 400);
    expect(fieldsOf(problem)).toEqual(["/password"]);
    expect(problem.errors?.[0]?.detail).toBe("Use at most 128 characters.");
  });

  it("answers a body over 1 MiB with 413", async () => {
    const res = await register({ ...valid, password: "p".repeat(1_100_000) });
    expect((await problemOf(res, 413)).code).toBe("payload_too_large");
  });

  it.each([
    ["null", "null"],
    ["an array", "[]"],
    ["a string", '"hello"'],
    ["a number", "42"],
  ])("answers a JSON body that is %s with 400", async (_label, rawBody) => {
    const res = await api("POST", "/api/v1/auth/register", {
      rawBody,
      headers: { "content-type": "application/json" },
    });
    expect((await problemOf(res, 400)).code).toBe("validation_failed");
  });

  it("answers malformed JSON with 400 and another media type with 415", async () => {
    const malformed = await api("POST", "/api/v1/auth/register", {
      rawBody: '{"email": ',
      headers: { "content-type": "application/json" },
    });
    expect((await problemOf(malformed, 400)).code).toBe("malformed_json");
    const form = await api("POST", "/api/v1/auth/register", {
      rawBody: "email=a@b.c",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect((await problemOf(form, 415)).code).toBe("unsupported_media_type");
  });

  it("refuses a duplicate email in any letter case with 409 naming /email", async () => {
    const problem = await problemOf(await register({ ...valid, email: "  TAKEN@Example.Test" }), 409);
    expect(problem).toMatchObject({ code: "email_taken", errors: [{ pointer: "/email" }] });
    expect(existing.email).toBe("taken@example.test");
  });

  it("refuses a duplicate username in any letter case with 409 naming /username", async () => {
    const problem = await problemOf(await register({ ...valid, username: "taken_NAME" }), 409);
    expect(problem).toMatchObject({ code: "username_taken", errors: [{ pointer: "/username" }] });
  });
});

describe("the password policy (NIST 800-63B)", () => {
  const withPassword = (password: string, extra: Record<string, unknown> = {}) =>
    register({ ...valid, email: "policy@example.test", password, password_confirm: password, ...extra });

  it.each([
    ["7 characters", "abcdefg", /at least 8/],
    ["129 characters", "x".repeat(129), /at most 128/],
    ["4 emoji (8 UTF-16 units, 4 characters)", "🦄🦄🦄🦄", /at least 8/],
    ["a common password", "password123", /too common/],
    ["a common password in other case", "PassWord123", /too common/],
    ["a common password with spaces around", "  iloveyou  ", /too common/],
    ["the email", "policy@example.test", /email address or username/],
    ["the email's local part", "policy-person", /email address or username/],
  ])("refuses %s", async (_label, password, message) => {
    const email = password === "policy-person" ? "policy-person@example.test" : "policy@example.test";
    const res = await register({ ...valid, email, password, password_confirm: password });
    const problem = await problemOf(res, 400);
    expect(problem.errors).toEqual([{ pointer: "/password", detail: expect.stringMatching(message) }]);
  });

  it("refuses the username as password", async () => {
    const problem = await problemOf(
      await withPassword("Lovely_Username", { username: "lovely_username" }),
      400,
    );
    expect(problem.errors).toEqual([{ pointer: "/password", detail: expect.stringMatching(/username/) }]);
  });

  it("accepts any characters without composition rules: 8 emoji, spaces, a plain long phrase", async () => {
    for (const [index, password] of ["🦄🦄🦄🦄🦄🦄🦄🦄", "all lower case words here"].entries()) {
      const res = await register({
        ...valid,
        email: `fine-${index}@example.test`,
        password,
        password_confirm: password,
      });
      const body = await jsonOf<AuthTokensBody>(res, 201);
      expect(body.user.email).toBe(`fine-${index}@example.test`);
    }
  });
});

describe("other identity routes refuse bad input", () => {
  it.each([
    [
      "login: extra field",
      "/api/v1/auth/login",
      { email: "a@b.co", password: "x", remember: true },
      "/remember",
    ],
    [
      "login: password as a number",
      "/api/v1/auth/login",
      { email: "a@b.co", password: 12345678 },
      "/password",
    ],
    [
      "login: a 1 MB password",
      "/api/v1/auth/login",
      { email: "a@b.co", password: "p".repeat(1_000_000) },
      "/password",
    ],
    [
      "login: a 10 KB email",
      "/api/v1/auth/login",
      { email: `${"a".repeat(10_000)}@b.co`, password: "x" },
      "/email",
    ],
    ["refresh: token as a number", "/api/v1/auth/refresh", { refresh_token: 1 }, "/refresh_token"],
    [
      "refresh: extra field",
      "/api/v1/auth/refresh",
      { refresh_token: "rt_x", grant_type: "refresh" },
      "/grant_type",
    ],
    ["verify: no token", "/api/v1/auth/token/verify", { jwt: "x" }, "/token"],
  ])("%s → 400", async (_label, path, body, pointer) => {
    const problem = await problemOf(await api("POST", path, { body }), 400);
    expect(fieldsOf(problem)).toContain(pointer);
  });

  it("password change: wrong types and missing fields name the fields (before any password is checked)", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user);
    const res = await api("POST", "/api/v1/auth/password/change", {
      token: tokens.accessToken,
      body: { current_password: 1, password: DEFAULT_PASSWORD },
    });
    expect(fieldsOf(await problemOf(res, 400)).sort()).toEqual(["/current_password", "/password_confirm"]);
  });
});

describe("optional JSON bodies", () => {
  it("treat an empty body sent as application/json as no body", async () => {
    const account = await createUser();
    const tokens = await signIn(account.user);
    const res = await api("POST", "/api/v1/auth/logout", {
      token: tokens.accessToken,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(204);
  });

  it("still answer a refused token with its specific reason", async () => {
    const res = await api("POST", "/api/v1/auth/logout", {
      headers: { "content-type": "application/json", authorization: "Bearer not-a-jwt" },
    });
    const problem = await problemOf(res, 401);
    expect(problem.code).toBe("invalid_token");
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });
});
