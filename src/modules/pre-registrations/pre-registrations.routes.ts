import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { rateLimit } from "../../middleware/rate-limit";
import { requireStaff } from "../../middleware/require";
import {
  CreatePreRegistrationSchema,
  ListPreRegistrationsQuery,
  PreRegistrationIdParams,
  PreRegistrationPageSchema,
  PreRegistrationSchema,
  preRegistrationExample,
} from "./pre-registrations.schemas";

const tags = ["Waitlist"];

/** The address in the body, normalised like the schema, so each spelling does not get its own budget. */
async function emailInBody(c: Context<AppEnv>): Promise<string | undefined> {
  const body = (await c.req.json()) as { email?: unknown };
  return typeof body.email === "string" ? body.email.trim().toLowerCase() : undefined;
}

export const joinWaitlist = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Join the waitlist",
  description:
    "Idempotent per address (compared lower-cased): 201 with `Location` when added, 200 with the existing entry when it was already there. Limited per IP and per address (`waitlist` policy).",
  request: { body: jsonRequestBody(CreatePreRegistrationSchema) },
  middleware: [rateLimit("waitlist", { key: emailInBody })],
  responses: {
    201: {
      ...jsonContent(PreRegistrationSchema, "Added to the waitlist.", preRegistrationExample),
      headers: { Location: { description: "The new entry.", schema: { type: "string" } } },
    },
    200: jsonContent(PreRegistrationSchema, "Already on the waitlist.", preRegistrationExample),
    429: problemResponse(429, "Too many requests from this IP or for this address (`rate_limited`)."),
    ...problemResponses(400, 413, 415),
  },
});

export const listWaitlist = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List the waitlist (staff)",
  description: "Newest first by default; `sort=created_at,email`, `q` searches the address.",
  security: SECURITY.bearer,
  middleware: [requireStaff()],
  request: { query: ListPreRegistrationsQuery },
  responses: {
    200: jsonContent(PreRegistrationPageSchema, "One page of entries."),
    ...problemResponses(400, 401, 403),
  },
});

export const exportWaitlist = defineRoute({
  method: "get",
  path: "/export.csv",
  tags,
  summary: "Export the waitlist as CSV (staff)",
  description:
    "Every entry, oldest first, as RFC 4180 CSV (`id,email,created_at`, CRLF line ends), streamed. Cells that a spreadsheet would run as a formula are prefixed with `'`.",
  security: SECURITY.bearer,
  middleware: [requireStaff()],
  responses: {
    200: {
      description: "The CSV file (download).",
      content: {
        "text/csv": {
          schema: { type: "string" },
          example:
            "id,email,created_at\r\n0190c6c9-2b3c-7d4e-8f5a-6b7c8d9e0f1a,grace@example.com,2026-11-21T10:04:12.000Z\r\n",
        },
      },
    },
    ...problemResponses(401, 403),
  },
});

export const getWaitlistEntry = defineRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Read one waitlist entry (staff)",
  security: SECURITY.bearer,
  middleware: [requireStaff()],
  request: { params: PreRegistrationIdParams },
  responses: {
    200: jsonContent(PreRegistrationSchema, "The entry.", preRegistrationExample),
    ...problemResponses(400, 401, 403, 404),
  },
});
