/**
 * Property: whatever a client sends to the file routes (any JSON to create, any token
 * and body to the upload and download URLs), the answer is a success or a 4xx problem,
 * never a 500. Runs are bounded; each upload or download request comes from a fresh
 * address, so the anonymous rate limit stays out of it.
 */
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { Organization } from "../src/db/schema";
import { person } from "./support/factories";
import { createFile, filesPath, PDF } from "./support/files";
import { api, testIp } from "./support/http";
import { createOrg } from "./support/orgs";

let token: string;
let org: Organization;
beforeAll(async () => {
  const owner = await person();
  token = owner.token;
  org = await createOrg(owner.user);
});

async function expectHandled(res: Response, label: string): Promise<void> {
  expect(res.status, label).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers.get("content-type"), label).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as { status: number };
    expect(problem.status, label).toBe(res.status);
  } else {
    await res.body?.cancel();
  }
}

const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    "application/pdf",
    "IMAGE/PNG; x=y",
    "text/html",
    "",
    "../../etc/passwd",
    "\u202Eexe",
    "\u0000",
  ),
  fc.integer({ min: -10, max: 2 ** 40 }),
  fc.double(),
  fc.string({ maxLength: 300 }),
);

const nearlyValid = fc
  .tuple(fc.constantFrom("name", "content_type", "size", "extra"), fieldValue)
  .map(([field, value]) => ({
    name: "probe.pdf",
    content_type: "application/pdf",
    size: 10,
    [field]: value,
  }));

describe("file routes never answer 500", () => {
  it("POST /orgs/{org_id}/files with arbitrary JSON", async () => {
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 3 }), nearlyValid), async (body) => {
        const res = await api("POST", filesPath(org.id), { token, body });
        statuses.add(res.status);
        await expectHandled(res, JSON.stringify(body));
      }),
      { numRuns: 150 },
    );
    expect(statuses).toContain(201);
    expect(statuses).toContain(400);
  });

  it("the upload and download URLs with arbitrary tokens, headers and bodies", async () => {
    const created = await createFile(token, org.id, {
      name: "t.pdf",
      content_type: "application/pdf",
      size: PDF.length,
    });
    const real = new URL(created.upload.url).searchParams.get("token") ?? "";
    const tokenLike = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.base64String({ maxLength: 300 }).map((text) => `${text}.${text.slice(0, 40)}`),
      // The real token with one character changed.
      fc
        .tuple(fc.nat(real.length - 1), fc.constantFrom("A", "-", "_", ".", "z"))
        .map(([at, ch]) => real.slice(0, at) + ch + real.slice(at + 1)),
    );
    await fc.assert(
      fc.asyncProperty(
        tokenLike,
        fc.constantFrom("PUT", "GET"),
        fc.constantFrom("application/pdf", "text/plain", ""),
        fc.uint8Array({ maxLength: 200 }),
        async (candidate, method, type, body) => {
          const path = method === "PUT" ? "/api/v1/files/upload" : "/api/v1/files/download";
          const headers = new Headers({ "cf-connecting-ip": testIp() });
          if (type) headers.set("content-type", type);
          const res = await exports.default.fetch(
            `http://localhost${path}?token=${encodeURIComponent(candidate)}`,
            { method, headers, body: method === "PUT" ? body : undefined },
          );
          await expectHandled(res, `${method} ${candidate}`);
        },
      ),
      { numRuns: 150 },
    );
  });
});
