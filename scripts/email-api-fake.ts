/**
 * `npm run dev:email-api`: the HTTP APIs of Resend, Postmark, SendGrid and Mailgun on
 * http://127.0.0.1:8025, answering as each documents, so EMAIL_PROVIDER can be switched
 * on a laptop without an account. Development only: nothing in src/ imports it.
 *
 * In .dev.vars: EMAIL_PROVIDER=postmark (or resend, sendgrid, mailgun), its key (any
 * value: POSTMARK_SERVER_TOKEN=local …; mailgun also MAILGUN_DOMAIN=mg.example.com) and
 * EMAIL_API_BASE_URL=http://127.0.0.1:8025. Each request is printed (the key masked);
 * the email then shows in the dev mailbox (http://localhost:8787/dev/mailbox) as well.
 *
 * Options: --port 8025; --fail 401|422|429|500 answers every request with that provider's
 * documented error instead, to watch the queue give up (401, 422) or retry (429, 500).
 */
import { createServer, type IncomingMessage } from "node:http";

const portArg = process.argv.find((arg, i) => process.argv[i - 1] === "--port" || arg.startsWith("--port="));
const PORT = Number(portArg?.replace("--port=", "") ?? 8025);
const failArg = process.argv.find((arg, i) => process.argv[i - 1] === "--fail" || arg.startsWith("--fail="));
const FAIL = failArg ? Number(failArg.replace("--fail=", "")) : undefined;

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

/** Each provider: how its requests are recognised, what it accepts them with, and its documented refusals. */
const PROVIDERS: Array<{
  name: string;
  matches: (path: string) => boolean;
  accepted: () => Answer;
  refused: (status: number) => Answer;
}> = [
  {
    name: "resend",
    matches: (path) => path === "/emails",
    accepted: () => ({ status: 200, body: { id: crypto.randomUUID() } }),
    refused: (status) => ({
      status,
      body: {
        statusCode: status,
        name: status === 401 ? "missing_api_key" : "validation_error",
        message: "local fake",
      },
    }),
  },
  {
    name: "postmark",
    matches: (path) => path === "/email",
    accepted: () => ({
      status: 200,
      body: {
        To: "",
        SubmittedAt: new Date().toISOString(),
        MessageID: crypto.randomUUID(),
        ErrorCode: 0,
        Message: "OK",
      },
    }),
    refused: (status) => ({
      status,
      body: { ErrorCode: status === 422 ? 406 : status === 401 ? 10 : status, Message: "local fake refusal" },
    }),
  },
  {
    name: "sendgrid",
    matches: (path) => path === "/v3/mail/send",
    accepted: () => ({ status: 202, headers: { "X-Message-Id": crypto.randomUUID() } }),
    refused: (status) => ({
      status,
      body: { errors: [{ message: "local fake refusal", field: null, help: null }] },
    }),
  },
  {
    name: "mailgun",
    matches: (path) => /^\/v3\/[^/]+\/messages$/.test(path),
    accepted: () => ({
      status: 200,
      body: { id: `<${crypto.randomUUID()}@local>`, message: "Queued. Thank you." },
    }),
    refused: (status) =>
      status === 401 ? { status, body: "Forbidden" } : { status, body: { message: "local fake" } },
  },
];

async function fieldsOf(request: IncomingMessage, body: Buffer): Promise<Record<string, unknown>> {
  const type = request.headers["content-type"] ?? "";
  if (type.startsWith("application/json"))
    return JSON.parse(body.toString("utf8")) as Record<string, unknown>;
  const form = await new Response(new Uint8Array(body), { headers: { "content-type": type } }).formData();
  return Object.fromEntries([...form.entries()].map(([name, value]) => [name, String(value)]));
}

/** The credential's scheme and its first characters: enough to see which header carried it. */
function credential(request: IncomingMessage): string {
  const value = request.headers.authorization ?? request.headers["x-postmark-server-token"];
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return "none";
  const [scheme, secret] = text.includes(" ") ? text.split(" ", 2) : ["X-Postmark-Server-Token", text];
  return `${scheme} ${(secret ?? "").slice(0, 4)}…`;
}

const server = createServer(async (request, response) => {
  const path = new URL(request.url ?? "/", "http://local").pathname;
  const provider = request.method === "POST" ? PROVIDERS.find((each) => each.matches(path)) : undefined;
  if (!provider) {
    response
      .writeHead(404, { "content-type": "application/json" })
      .end('{"message":"not an email API path"}');
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const fields = await fieldsOf(request, Buffer.concat(chunks));
  const brief = Object.fromEntries(
    Object.entries(fields).map(([name, value]) => [
      name,
      typeof value === "string" && value.length > 80
        ? `${value.slice(0, 80)}… (${value.length} chars)`
        : value,
    ]),
  );
  const answer = FAIL ? provider.refused(FAIL) : provider.accepted();
  console.log(`\n← ${provider.name}: POST ${path}, credentials ${credential(request)} → ${answer.status}`);
  console.log(JSON.stringify(brief, null, 2));
  const json = answer.body !== undefined && typeof answer.body !== "string";
  response
    .writeHead(answer.status, { ...(json ? { "content-type": "application/json" } : {}), ...answer.headers })
    .end(answer.body === undefined ? undefined : json ? JSON.stringify(answer.body) : String(answer.body));
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(
    `Email APIs of resend, postmark, sendgrid and mailgun on http://127.0.0.1:${PORT}${FAIL ? `, refusing everything with ${FAIL}` : ""}.\nSet EMAIL_API_BASE_URL=http://127.0.0.1:${PORT} (and EMAIL_PROVIDER with any key) in .dev.vars, then restart npm run dev.`,
  );
});
