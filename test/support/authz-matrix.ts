/**
 * The authorization matrix of an organization's routes: each route against the eight callers
 * an organization has — its four roles, a signed-in person outside it, and API keys with the
 * route's scope, without it, and of another organization — each case on fresh fixtures, so no
 * call depends on another. Every case checks the status; a refusal must be problem+json and
 * change nothing (the `snapshot` before and after are equal), and a key without the scope must
 * be told which one it lacks.
 *
 *   authorizationMatrix(TABLE, {
 *     fixture: (scope) => …,                      // an organization with its people and keys
 *     headers: (caller, f) => ({ authorization: … }),
 *     snapshot: (f) => …,                        // what a refused call must leave as it was
 *   });
 */
import { describe, expect, it } from "vitest";
import { api } from "./http";

export const MATRIX_CALLERS = [
  "owner",
  "admin",
  "member",
  "billing",
  "non_member",
  "key_with_scope",
  "key_without_scope",
  "key_other_org",
] as const;
export type MatrixCaller = (typeof MATRIX_CALLERS)[number];
/** The callers that are people, signed in with a token. */
export type MatrixPerson = Exclude<MatrixCaller, `key_${string}`>;
/** The callers that are API keys. */
export type MatrixKey = Extract<MatrixCaller, `key_${string}`>;

export type MatrixRow<Fixture, Scope extends string | null> = {
  /** As the OpenAPI document names it, e.g. `PATCH /orgs/{org_id}`. */
  route: string;
  method: string;
  path: (f: Fixture) => string;
  /** A valid body, so that only the caller decides the answer. */
  body?: () => unknown;
  /** The scope an API key needs here; null when keys may never call it (people only). */
  scope: Scope;
  /** owner, admin, member, billing, non-member, key with scope, key without, key of another org. */
  expect: [number, number, number, number, number, number, number, number];
};

export function authorizationMatrix<Fixture, Scope extends string | null>(
  rows: MatrixRow<Fixture, Scope>[],
  setup: {
    fixture: (scope: Scope) => Promise<Fixture>;
    headers: (caller: MatrixCaller, f: Fixture) => Record<string, string>;
    /** What a refused call must leave as it was. */
    snapshot: (f: Fixture) => Promise<unknown>;
  },
): void {
  for (const row of rows) {
    describe(row.route, () => {
      MATRIX_CALLERS.forEach((caller, index) => {
        const status = row.expect[index] as number;
        it(`${caller} → ${status}`, async () => {
          const f = await setup.fixture(row.scope);
          const before = await setup.snapshot(f);
          const res = await api(row.method, row.path(f), {
            headers: setup.headers(caller, f),
            body: row.body?.(),
          });
          const text = await res.text();
          expect(res.status, text.slice(0, 300)).toBe(status);
          if (status >= 400) {
            expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
            expect(await setup.snapshot(f)).toEqual(before);
          }
          if (status === 403 && caller === "key_without_scope" && row.scope) {
            expect(JSON.parse(text).code).toBe("insufficient_scope");
            expect(res.headers.get("www-authenticate")).toBe(
              `Bearer error="insufficient_scope", scope="${row.scope}"`,
            );
          }
        });
      });
    });
  }
}
