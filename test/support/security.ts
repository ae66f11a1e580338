/**
 * The security suite every protected route runs: no credentials → 401, bad
 * credentials → 401 (each with `WWW-Authenticate: Bearer`), a signed-in
 * principal without the needed role → 403, someone else's object → 404.
 *
 *   securitySuite("GET /api/v1/users/{id}", {
 *     method: "GET",
 *     path: () => `/api/v1/users/${someone.id}`,
 *     forbidden: async () => ({ authorization: `Bearer ${plainUserToken}` }),
 *   });
 */
import { describe, expect, it } from "vitest";
import { api, problemOf } from "./http";
import { signedWithForeignKey, signWithRealKey } from "./tokens";

export type HeaderMap = Record<string, string>;

export type SecuredRoute = {
  method: string;
  /** The path, or a function for paths that need data created first. */
  path: string | (() => string | Promise<string>);
  /** A valid body, so only credentials decide the answer. */
  body?: unknown;
  /** Headers of a signed-in principal that lacks the role the route needs: expects 403. */
  forbidden?: () => Promise<HeaderMap>;
  /** The route called by a signed-in principal on an object that belongs to someone else: expects 404. */
  notOwned?: () => Promise<{ path: string; headers: HeaderMap; body?: unknown }>;
};

const resolvePath = async (path: SecuredRoute["path"]) => (typeof path === "string" ? path : await path());

/** Well-formed but refused credentials: each must be answered 401, never 200/403/500. */
async function badCredentials(): Promise<Array<[string, HeaderMap]>> {
  const subject = { userId: crypto.randomUUID(), sessionId: crypto.randomUUID() };
  return [
    ["garbage bearer token", { authorization: "Bearer not-a-token" }],
    ["non-bearer scheme", { authorization: "Basic dXNlcjpwYXNz" }],
    ["token signed by an unknown key", { authorization: `Bearer ${await signedWithForeignKey(subject)}` }],
    [
      "expired token",
      { authorization: `Bearer ${await signWithRealKey(subject, {}, Date.now() - 2 * 60 * 60 * 1000)}` },
    ],
    [
      "token for another audience",
      { authorization: `Bearer ${await signWithRealKey(subject, { audience: "other" })}` },
    ],
  ];
}

export function securitySuite(name: string, route: SecuredRoute): void {
  describe(`security: ${name}`, () => {
    it("answers 401 without credentials", async () => {
      const res = await api(route.method, await resolvePath(route.path), { body: route.body });
      const problem = await problemOf(res, 401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
      expect(problem.code).toBe("unauthorized");
    });

    it("answers 401 to bad credentials", async () => {
      const path = await resolvePath(route.path);
      for (const [label, headers] of await badCredentials()) {
        const res = await api(route.method, path, { body: route.body, headers });
        expect(res.status, label).toBe(401);
        expect(res.headers.get("www-authenticate"), label).toMatch(/^Bearer error="invalid_token"/);
        expect((await problemOf(res, 401)).code, label).toBe("invalid_token");
      }
    });

    if (route.forbidden) {
      const forbidden = route.forbidden;
      it("answers 403 to a principal without the role", async () => {
        const res = await api(route.method, await resolvePath(route.path), {
          body: route.body,
          headers: await forbidden(),
        });
        await problemOf(res, 403);
      });
    }

    if (route.notOwned) {
      const notOwned = route.notOwned;
      it("answers 404 for someone else's object", async () => {
        const request = await notOwned();
        const res = await api(route.method, request.path, {
          body: request.body ?? route.body,
          headers: request.headers,
        });
        expect((await problemOf(res, 404)).code).toBe("not_found");
      });
    }
  });
}
