/**
 * The `route` label of the request metrics (and of the access log, which reads the same
 * requestTiming()) is the pattern of the route a request went to, for every documented
 * operation: a request to a concrete path of each path in /api/openapi.json is counted
 * once, under that path's own pattern. Paths that share a prefix with a parameter route
 * (`/api/v1/users/me` beside `/api/v1/users/{id}`, `/api/v1/tasks/…`, `/api/v1/orgs/…`,
 * `/admin/v1/…`) are where a wrong pick shows. A request an app-wide middleware answered
 * (the rate limiter) is counted under the route it was going to.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../src/env";
import { resolvePolicies } from "../src/lib/rate-limit/policies";
import { api, jsonOf } from "./support/http";
import { type Family, parsePrometheusText, sampleValue } from "./support/prometheus";

type OpenApiDocument = { paths: Record<string, Record<string, unknown>> };

const METHODS = ["get", "post", "put", "patch", "delete"] as const;
/** Any id fits every path parameter: the route is chosen by the pattern, validation comes after. */
const SAMPLE_ID = "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60";
/** Scrapes are not counted in the request metrics (src/middleware/request-metrics.ts). */
const UNCOUNTED = new Set(["/metrics"]);

/** `/users/{id}` → `/users/:id`, the way @hono/zod-openapi registers it. */
const honoPattern = (path: string) => path.replaceAll(/\{([^}]+)\}/g, ":$1");
const concretePath = (path: string) => path.replaceAll(/\{[^}]+\}/g, SAMPLE_ID);

async function scrape(): Promise<Map<string, Family>> {
  const res = await api("GET", "/metrics");
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

/** Requests counted for `method` and `route`, whatever their status class. */
function counted(families: Map<string, Family>, method: string, route: string): number {
  return (families.get("http_requests_total")?.samples ?? [])
    .filter((sample) => sample.labels.method === method && sample.labels.route === route)
    .reduce((total, sample) => total + sample.value, 0);
}

describe("the route label", () => {
  it("is each documented operation's own pattern, for a request to a concrete path of it", async () => {
    const document = await jsonOf<OpenApiDocument>(await api("GET", "/api/openapi.json"), 200);
    const operations = Object.entries(document.paths)
      .filter(([path]) => !UNCOUNTED.has(path))
      .flatMap(([path, item]) =>
        METHODS.filter((method) => method in item).map((method) => ({
          method: method.toUpperCase(),
          path,
          route: honoPattern(path),
        })),
      );
    // The prefixes the issue is about are all in the walk.
    const routes = new Set(operations.map((operation) => operation.route));
    for (const route of [
      "/api/v1/users/me",
      "/api/v1/users/me/sessions",
      "/api/v1/users/:id",
      "/api/v1/tasks/:id",
      "/api/v1/orgs/:org_id",
      "/admin/v1/users/:id",
    ]) {
      expect(routes, route).toContain(route);
    }

    const before = await scrape();
    // Anonymous and without a body: each is answered by its route's guard, validation or handler,
    // or by a router-wide guard (the admin API's staff check) in front of the route.
    for (const { method, path } of operations) {
      const res = await api(method, concretePath(path));
      expect(res.status, `${method} ${path}`).not.toBe(500);
      await res.body?.cancel();
    }
    const after = await scrape();

    const mislabelled = operations
      .map(({ method, path, route }) => ({
        operation: `${method} ${path}`,
        counted: counted(after, method, route) - counted(before, method, route),
      }))
      .filter((entry) => entry.counted !== 1);
    expect(mislabelled).toEqual([]);
  });

  it("is the route a request was going to when an app-wide middleware answered it (the limiter's 429)", async () => {
    const { limit } = resolvePolicies(getConfig(env).RATE_LIMIT_POLICIES).anonymous;
    const ip = "198.51.100.77"; // this file's own address: no other request here uses it
    const before = await scrape();
    for (let i = 0; i < limit; i++) expect((await api("GET", "/", { ip })).status).toBe(200);
    const refused = await api("GET", "/", { ip });
    expect(refused.status).toBe(429);
    const after = await scrape();
    const moved = (route: string, status_class: string) =>
      (sampleValue(after, "http_requests_total", { method: "GET", route, status_class }) ?? 0) -
      (sampleValue(before, "http_requests_total", { method: "GET", route, status_class }) ?? 0);
    expect(moved("/", "2xx")).toBe(limit);
    expect(moved("/", "4xx")).toBe(1);
    expect(moved("(unmatched)", "4xx")).toBe(0);
  });
});
