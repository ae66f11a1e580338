import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { requireOrgAccess } from "../../middleware/require";
import { REAUTHENTICATION_NOTE, tooManyWrongPasswords } from "../auth/reauthentication.schemas";
import { OrgIdParams } from "../orgs/orgs.schemas";
import {
  ApiKeyPageSchema,
  ApiKeyParams,
  ApiKeySchema,
  ApiKeyWithSecretSchema,
  apiKeyExample,
  CreateApiKeySchema,
  ListApiKeysQuery,
  RotateApiKeySchema,
  RotatedApiKeySchema,
  UpdateApiKeySchema,
} from "./api-keys.schemas";

const tags = ["API keys"];
const managers = problemResponse(403, "Only owners and admins manage API keys; API keys cannot.");
const notYours = problemResponse(404, "No such organization or key, or you are not in it.");
const guard = requireOrgAccess("api_keys:manage");
const noStore = {
  "Cache-Control": {
    description: "`no-store`: the body holds a secret.",
    schema: { type: "string" as const },
  },
};

export const createApiKey = defineRoute({
  method: "post",
  path: "/{org_id}/api-keys",
  tags,
  summary: "Create an API key",
  description: `Owners and admins, with scopes their role may grant (403 \`scope_not_allowed\` otherwise). The answer carries the secret \`key\` **once**; only its SHA-256 is stored. \`sk_live_…\` in production, \`sk_test_…\` elsewhere (test keys are refused in production). A key with every scope (\`*\`, owners only): ${REAUTHENTICATION_NOTE}`,
  security: SECURITY.bearer,
  middleware: [guard],
  request: { params: OrgIdParams, body: jsonRequestBody(CreateApiKeySchema) },
  responses: {
    201: {
      ...jsonContent(ApiKeyWithSecretSchema, "Created; store the `key` now."),
      headers: {
        Location: { description: "The key.", schema: { type: "string" } },
        ...noStore,
      },
    },
    403: problemResponse(
      403,
      "Your role cannot manage keys or grant a scope (`scope_not_allowed`), a rate limit above the policy (`rate_limit_above_policy`), the caller is an API key, or `*` without a recent authentication (`reauthentication_required`).",
    ),
    429: tooManyWrongPasswords(),
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const listApiKeys = defineRoute({
  method: "get",
  path: "/{org_id}/api-keys",
  tags,
  summary: "API keys of an organization",
  description: "Owners and admins. Never shows a secret. `filter[revoked]=true|false`.",
  security: SECURITY.bearer,
  middleware: [guard],
  request: { params: OrgIdParams, query: ListApiKeysQuery },
  responses: {
    200: jsonContent(ApiKeyPageSchema, "One page of keys."),
    403: managers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const getApiKey = defineRoute({
  method: "get",
  path: "/{org_id}/api-keys/{key_id}",
  tags,
  summary: "Read an API key",
  security: SECURITY.bearer,
  middleware: [guard],
  request: { params: ApiKeyParams },
  responses: {
    200: jsonContent(ApiKeySchema, "The key (without its secret).", apiKeyExample),
    403: managers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const updateApiKey = defineRoute({
  method: "patch",
  path: "/{org_id}/api-keys/{key_id}",
  tags,
  summary: "Rename, re-scope, re-limit or change the expiry of an API key",
  description:
    "Scopes can always be removed, but only added when your role may grant them; adding `*` needs a recent authentication as on creation. Takes effect at once on this location, within about a minute everywhere.",
  security: SECURITY.bearer,
  middleware: [guard],
  request: { params: ApiKeyParams, body: jsonRequestBody(UpdateApiKeySchema) },
  responses: {
    200: jsonContent(ApiKeySchema, "The updated key.", apiKeyExample),
    403: problemResponse(
      403,
      "Your role cannot grant an added scope (`scope_not_allowed`), cannot manage keys, or `*` without a recent authentication (`reauthentication_required`).",
    ),
    404: notYours,
    409: problemResponse(409, "The key is revoked (`api_key_revoked`)."),
    ...problemResponses(400, 401),
  },
});

export const revokeApiKey = defineRoute({
  method: "delete",
  path: "/{org_id}/api-keys/{key_id}",
  tags,
  summary: "Revoke an API key",
  description:
    "Every request with it, and with the access tokens exchanged for it, is refused from now on: at once on this location, within about a minute everywhere. Revoking again is a no-op.",
  security: SECURITY.bearer,
  middleware: [guard],
  request: { params: ApiKeyParams },
  responses: {
    204: { description: "Revoked." },
    403: managers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const rotateApiKey = defineRoute({
  method: "post",
  path: "/{org_id}/api-keys/{key_id}/rotate",
  tags,
  summary: "Rotate an API key's secret",
  description:
    "Same key (id, scopes, limits), new secret, shown once. The old secret stops working at once, or after `grace_period_seconds` (up to 7 days) so deployments can switch over. The body is optional.",
  security: SECURITY.bearer,
  middleware: [guard],
  request: { params: ApiKeyParams, body: jsonRequestBody(RotateApiKeySchema, undefined, false) },
  responses: {
    200: {
      ...jsonContent(RotatedApiKeySchema, "Rotated; store the new `key` now."),
      headers: noStore,
    },
    403: managers,
    404: notYours,
    409: problemResponse(409, "The key is revoked (`api_key_revoked`)."),
    ...problemResponses(400, 401),
  },
});
