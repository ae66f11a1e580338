/**
 * The scenario context every harness seeds through (createScenarioContext), against a small
 * HTTP server in this process: what `api` sends and parses, when it throws, what `once` shares.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScenarioContext } from "./scenarios.ts";

type Seen = { method?: string; url?: string; contentType?: string; authorization?: string; body: string };

let server: Server;
let url: string;
const seen: Seen[] = [];

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    seen.push({
      method: request.method,
      url: request.url,
      contentType: request.headers["content-type"],
      authorization: request.headers.authorization,
      body: await bodyOf(request),
    });
    if (request.url === "/json") {
      response.writeHead(201, { "content-type": "application/json" }).end('{"id":"u1"}');
    } else if (request.url === "/problem") {
      response
        .writeHead(409, { "content-type": "application/problem+json" })
        .end('{"code":"email_taken","detail":"This email is already registered."}');
    } else {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const context = () => createScenarioContext({ url, persistTo: "/nonexistent", root: "/nonexistent" });

describe("createScenarioContext", () => {
  it("sends an object as JSON beside the caller's headers and parses a JSON answer", async () => {
    const ctx = context();
    const response = await ctx.api("POST", "/json", { email: "a@example.com" }, 201, {
      authorization: "Bearer t",
    });
    expect(response).toMatchObject({ status: 201, body: { id: "u1" } });
    expect(seen.at(-1)).toEqual({
      method: "POST",
      url: "/json",
      contentType: "application/json",
      authorization: "Bearer t",
      body: '{"email":"a@example.com"}',
    });
  });

  it("answers text as text, and sends no content-type without a body", async () => {
    const response = await context().api("GET", "/text");
    expect(response).toMatchObject({ status: 200, body: "ok" });
    expect(seen.at(-1)).toMatchObject({ method: "GET", contentType: undefined, body: "" });
  });

  it("throws on another status than the expected one, with what the server said", async () => {
    await expect(context().api("POST", "/problem", {}, 201)).rejects.toThrow(
      /^POST \/problem answered 409, expected 201: \{"code":"email_taken"/,
    );
    // Without an expectation every status is an answer (a scenario may test for a 409 itself).
    await expect(context().api("POST", "/problem", {})).resolves.toMatchObject({
      status: 409,
      body: { code: "email_taken" },
    });
  });

  it("runs a `once` seed a single time per context, however many scenarios ask at once", async () => {
    const ctx = context();
    let runs = 0;
    const create = async () => {
      runs++;
      return { user: "u1" };
    };
    const [first, second] = await Promise.all([ctx.once("user", create), ctx.once("user", create)]);
    expect(runs).toBe(1);
    expect(second).toBe(first);
    // Another worker's context seeds its own.
    await context().once("user", create);
    expect(runs).toBe(2);
  });
});
