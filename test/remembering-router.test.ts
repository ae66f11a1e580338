import { TrieRouter } from "hono/router/trie-router";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { MAX_PATH_LENGTH, MAX_REMEMBERED, RememberingRouter } from "../src/lib/remembering-router";
import { createStaff, createUser, signIn } from "./support/factories";
import { api, as } from "./support/http";

/** Both routers over the app's own registrations (every route, guard and validator). */
function appRouters() {
  const remembering = new RememberingRouter<string>();
  const trie = new TrieRouter<string>();
  for (const [index, route] of createApp().routes.entries()) {
    const label = `${index}:${route.method} ${route.path}`;
    remembering.add(route.method, route.path, label);
    trie.add(route.method, route.path, label);
  }
  return { remembering, trie };
}

const PATHS: Array<[string, string]> = [
  ["GET", "/api/v1/users/me"],
  ["GET", "/api/v1/users/01a2453a-5547-7005-8ce7-b40c32ef085d"],
  ["GET", "/api/v1/users/01a2453a-5547-7005-8ce7-b40c32ef085d/avatar"],
  ["POST", "/api/v1/users/me/avatar/upload/01a2453a-5547-7005-8ce7-b40c32ef085d/complete"],
  ["GET", "/api/v1/notifications/01a2453a-5547-7005-8ce7-b40c32ef085d"],
  ["DELETE", "/api/v1/orgs/01a2453a-5547-7005-8ce7-b40c32ef085d/members/someone"],
  ["GET", "/health/live"],
  ["GET", "/no/such/route"],
  ["PUT", "/api/v1/users/me"],
];

describe("RememberingRouter", () => {
  it("answers every pair exactly as the TrieRouter does, the first time and from memory", () => {
    const { remembering, trie } = appRouters();
    for (const round of [1, 2]) {
      for (const [method, path] of PATHS) {
        expect(remembering.match(method, path), `${method} ${path}, round ${round}`).toEqual(
          trie.match(method, path),
        );
      }
    }
    expect(remembering.size).toBe(PATHS.length);
  });

  it("keeps the same answer for the same pair, and a different one for another id", () => {
    const { remembering } = appRouters();
    const a = remembering.match("GET", "/api/v1/users/a");
    expect(remembering.match("GET", "/api/v1/users/a")).toBe(a);
    const b = remembering.match("GET", "/api/v1/users/b");
    expect(b).not.toBe(a);
    const params = (result: typeof a) => result[0].map(([, p]) => (p as Record<string, string>).id);
    expect(params(a)).toContain("a");
    expect(params(b)).toContain("b");
  });

  it("stays bounded under endless distinct paths (an attacker's scan)", () => {
    const { remembering } = appRouters();
    for (let i = 0; i < MAX_REMEMBERED * 3 + 7; i++) remembering.match("GET", `/api/v1/users/${i}`);
    expect(remembering.size).toBeLessThanOrEqual(MAX_REMEMBERED);
    const long = `/api/v1/users/${"x".repeat(MAX_PATH_LENGTH)}`;
    const before = remembering.size;
    expect(remembering.match("GET", long)[0].length).toBeGreaterThan(0);
    expect(remembering.size).toBe(before); // a long path is matched, never kept
  });

  it("forgets what it answered when a route is added", () => {
    const router = new RememberingRouter<string>();
    router.add("GET", "/a/:id", "param");
    expect(router.match("GET", "/a/b")[0].map(([h]) => h)).toEqual(["param"]);
    router.add("GET", "/a/b", "static");
    expect(router.match("GET", "/a/b")[0].map(([h]) => h)).toEqual(["param", "static"]);
  });

  it("serves the app: answers from memory keep each request's own params, and its 405s", async () => {
    const staff = await signIn((await createStaff()).user);
    const [a, b] = [(await createUser()).user, (await createUser()).user];
    for (let i = 0; i < 3; i++) {
      for (const user of [a, b]) {
        const res = await as(staff.accessToken).get(`/api/v1/users/${user.id}`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { id: string }).id).toBe(user.id);
      }
      expect((await api("PUT", "/api/v1/users/me")).status).toBe(405);
      expect((await as(staff.accessToken).get("/api/v1/users/me")).status).toBe(200);
    }
  });
});
