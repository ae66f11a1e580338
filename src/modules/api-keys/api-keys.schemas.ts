import { z } from "@hono/zod-openapi";
import { booleanFilter, listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { MAX_LIMIT, MAX_WINDOW_SECONDS } from "../../lib/rate-limit/policies";
import { ReauthenticationFields } from "../auth/reauthentication.schemas";
import { ORG_ID_EXAMPLE } from "../orgs/orgs.schemas";
import { API_KEY_SCOPE_NAMES, API_KEY_SCOPES } from "../orgs/permissions";
import { USER_ID_EXAMPLE } from "../users/users.schemas";

export const KEY_ID_EXAMPLE = "0190c6d4-6f70-7182-9a3b-4c5d6e7f8091";
/**
 * Documentation example, not a real secret: a made-up key of the real shape (its checksum does not hold,
 * so it is refused before any lookup). Used in the OpenAPI examples and docs/api-keys.md.
 */
export const KEY_EXAMPLE = "sk_live_2Vf8kQ0ZrTq9LmX4bN7cD1eF5gH3jK6pS8uW0yA2cE4Gx71Qb";

/** Longest grace period a rotation may give the old secret. */
export const MAX_GRACE_PERIOD_SECONDS = 7 * 24 * 60 * 60;
/** Keys may be set to expire at most this far ahead (longer-lived keys simply have no expiry). */
const MAX_EXPIRY_MS = 3 * 366 * 24 * 60 * 60 * 1000;

export const ScopeSchema = z.enum(API_KEY_SCOPE_NAMES).openapi("ApiKeyScope", {
  description: Object.entries(API_KEY_SCOPES)
    .map(([scope, { description }]) => `\`${scope}\`: ${description}`)
    .join(" "),
  example: "tasks:read",
});

export const ScopesSchema = z
  .array(ScopeSchema)
  .min(1)
  .max(API_KEY_SCOPE_NAMES.length)
  .refine((scopes) => new Set(scopes).size === scopes.length, "Each scope may be listed once.")
  .openapi({ example: ["tasks:read", "tasks:write"] });

const KeyNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[^\p{Cc}]*$/u, "Must not contain control characters.")
  // Names are shown in every list: a secret pasted here by mistake would leak through them.
  .refine((name) => !/sk_(live|test)_[0-9A-Za-z]{16,}/.test(name), "Must not contain an API key secret.")
  .openapi({ example: "CI deploys" });

const ExpiresAtSchema = z.iso
  .datetime({ offset: true, error: "Use an ISO 8601 date-time, e.g. 2027-01-01T00:00:00Z." })
  .transform((value) => new Date(value))
  .refine((date) => date.getTime() > Date.now() + 60_000, "Must be at least a minute in the future.")
  .refine((date) => date.getTime() <= Date.now() + MAX_EXPIRY_MS, "Must be within three years.")
  .openapi({ type: "string", format: "date-time", example: "2027-06-30T00:00:00Z" });

export const RateLimitSchema = z
  .strictObject({
    limit: z.number().int().min(1).max(MAX_LIMIT).openapi({ example: 300 }),
    window_seconds: z.number().int().min(1).max(MAX_WINDOW_SECONDS).openapi({ example: 60 }),
  })
  .openapi("ApiKeyRateLimit", {
    description:
      "This key's own limit instead of the `api_key` policy. Members may only set limits at or below the deployment's `api_key` rate; staff may set higher ones.",
  });

export const CreateApiKeySchema = z
  .strictObject({
    name: KeyNameSchema,
    scopes: ScopesSchema,
    expires_at: ExpiresAtSchema.nullable()
      .optional()
      .openapi({ description: "Omit or null: never expires." }),
    rate_limit: RateLimitSchema.nullable().optional(),
    // Proof for a key with every scope (`*`), when the sign-in is not recent.
    ...ReauthenticationFields,
  })
  .openapi("CreateApiKeyRequest", {
    example: {
      name: "CI deploys",
      scopes: ["tasks:read", "tasks:write"],
      expires_at: "2027-06-30T00:00:00Z",
    },
  });

export type CreateApiKeyInput = z.infer<typeof CreateApiKeySchema>;

export const UpdateApiKeySchema = z
  .strictObject({
    name: KeyNameSchema.optional(),
    scopes: ScopesSchema.optional().openapi({ description: "Replaces the list." }),
    expires_at: ExpiresAtSchema.nullable().optional(),
    rate_limit: RateLimitSchema.nullable().optional(),
    ...ReauthenticationFields,
  })
  .openapi("UpdateApiKeyRequest", { example: { name: "CI (read only)", scopes: ["tasks:read"] } });

export type UpdateApiKeyInput = z.infer<typeof UpdateApiKeySchema>;

export const RotateApiKeySchema = z
  .strictObject({
    grace_period_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_GRACE_PERIOD_SECONDS)
      .default(0)
      .openapi({
        description: `How long the old secret keeps working (0–${MAX_GRACE_PERIOD_SECONDS} s, default 0: it stops at once).`,
        example: 3600,
      }),
  })
  .openapi("RotateApiKeyRequest", { example: { grace_period_seconds: 3600 } });

export const apiKeyExample = {
  id: KEY_ID_EXAMPLE,
  name: "CI deploys",
  prefix: "sk_live_2Vf8kQ0Z",
  mode: "live",
  scopes: ["tasks:read", "tasks:write"],
  status: "active",
  created_by: USER_ID_EXAMPLE,
  created_at: "2026-11-20T17:02:11.000Z",
  updated_at: "2026-11-20T17:02:11.000Z",
  last_used_at: "2026-11-21T08:15:00.000Z",
  last_used_ip: "203.0.113.24",
  expires_at: "2027-06-30T00:00:00.000Z",
  revoked_at: null,
  rate_limit: null,
};

export const ApiKeySchema = z
  .object({
    id: z.uuid().openapi({ description: "Also the OAuth `client_id`." }),
    name: z.string(),
    prefix: z
      .string()
      .openapi({ description: "The first characters of the current secret, to recognise it." }),
    mode: z
      .enum(["live", "test"])
      .openapi({ description: "`test` keys (`sk_test_…`) are refused in production." }),
    scopes: z.array(ScopeSchema),
    status: z.enum(["active", "expired", "revoked"]),
    created_by: z.uuid().nullable().openapi({ description: "Null once that account is deleted." }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    last_used_at: z.iso.datetime().nullable().openapi({ description: "Updated at most once a minute." }),
    last_used_ip: z.string().nullable(),
    expires_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
    rate_limit: RateLimitSchema.nullable().openapi({ description: "Null: the `api_key` policy applies." }),
  })
  .openapi("ApiKey", { description: "The secret is never shown here.", example: apiKeyExample });

export type ApiKeyDto = z.infer<typeof ApiKeySchema>;

export const ApiKeyWithSecretSchema = ApiKeySchema.extend({
  key: z.string().openapi({
    description:
      "The secret, shown this once: store it now. Send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`, or exchange it at POST /api/v1/oauth/token.",
    example: KEY_EXAMPLE,
  }),
}).openapi("ApiKeyWithSecret", { example: { ...apiKeyExample, key: KEY_EXAMPLE, last_used_at: null } });

export const RotatedApiKeySchema = ApiKeyWithSecretSchema.extend({
  previous_secret_expires_at: z.iso.datetime().openapi({
    description: "When the secret it replaced stops working (now, unless a grace period was asked for).",
  }),
}).openapi("RotatedApiKey", {
  example: {
    ...apiKeyExample,
    key: KEY_EXAMPLE,
    prefix: "sk_live_2Vf8kQ0Z",
    previous_secret_expires_at: "2026-11-21T09:15:00.000Z",
  },
});

export const ApiKeyPageSchema = pageSchema(ApiKeySchema, "ApiKeyPage");

export const ListApiKeysQuery = listQuery({
  sort: ["created_at", "name"],
  defaultSort: "-created_at",
  filters: { "filter[revoked]": booleanFilter },
});

export const ApiKeyParams = z.object({
  org_id: z.uuid().openapi({ param: { name: "org_id", in: "path" }, example: ORG_ID_EXAMPLE }),
  key_id: z.uuid().openapi({ param: { name: "key_id", in: "path" }, example: KEY_ID_EXAMPLE }),
});
