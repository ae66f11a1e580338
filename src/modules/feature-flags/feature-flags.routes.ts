import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../app-env";
import { defineRoute, jsonContent, jsonRequestBody, problemResponses, SECURITY } from "../../lib/openapi";
import { problems } from "../../lib/problem";
import { authenticationFailure } from "../../middleware/authenticate";
import { ADMIN_GUARD_RESPONSES, ADMIN_TAGS } from "../admin/admin.openapi";
import {
  EvaluatedFlagsSchema,
  FeatureFlagPageSchema,
  FeatureFlagSchema,
  FlagKeyParams,
  featureFlagExample,
  ListFeatureFlagsQuery,
  PutFeatureFlagSchema,
} from "./feature-flags.schemas";

// ---------------------------------------------------------------------------
// Admin (registered on the admin router, /admin/v1)

export const listFlags = defineRoute({
  method: "get",
  path: "/feature-flags",
  tags: ADMIN_TAGS,
  summary: "List feature flags",
  description: "Sorted by `key` by default (`sort=key,created_at,updated_at`); `filter[enabled]=true|false`.",
  security: SECURITY.bearer,
  request: { query: ListFeatureFlagsQuery },
  responses: {
    200: jsonContent(FeatureFlagPageSchema, "One page of flags.", {
      data: [featureFlagExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const getFlag = defineRoute({
  method: "get",
  path: "/feature-flags/{key}",
  tags: ADMIN_TAGS,
  summary: "Read a feature flag",
  security: SECURITY.bearer,
  request: { params: FlagKeyParams },
  responses: {
    200: jsonContent(FeatureFlagSchema, "The flag.", featureFlagExample),
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const putFlag = defineRoute({
  method: "put",
  path: "/feature-flags/{key}",
  tags: ADMIN_TAGS,
  summary: "Create or replace a feature flag",
  description:
    "The body is the whole flag. Takes effect at once on the isolate that served the request and within 30 s everywhere else (each isolate caches the flags for 30 s). Audited as `feature_flag.create` or `feature_flag.update` with the flag before and after.",
  security: SECURITY.bearer,
  request: { params: FlagKeyParams, body: jsonRequestBody(PutFeatureFlagSchema) },
  responses: {
    200: jsonContent(FeatureFlagSchema, "Replaced.", featureFlagExample),
    201: {
      ...jsonContent(FeatureFlagSchema, "Created.", featureFlagExample),
      headers: { Location: { description: "The flag.", schema: { type: "string" } } },
    },
    ...problemResponses(400, 413, 415),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const deleteFlag = defineRoute({
  method: "delete",
  path: "/feature-flags/{key}",
  tags: ADMIN_TAGS,
  summary: "Delete a feature flag",
  description: "Code asking for a deleted flag gets `false`. Audited as `feature_flag.delete`.",
  security: SECURITY.bearer,
  request: { params: FlagKeyParams },
  responses: {
    204: { description: "Deleted." },
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
  },
});

// ---------------------------------------------------------------------------
// Public (mounted at /api/v1/feature-flags)

/** Any verified principal (a person or an API key); anonymous callers get the 401 authentication recorded. */
const requirePrincipal: MiddlewareHandler<AppEnv> = async function requirePrincipal(c, next) {
  if (c.get("principal").kind === "anonymous") throw authenticationFailure(c) ?? problems.unauthorized();
  await next();
};

export const myFlags = defineRoute({
  method: "get",
  path: "/",
  tags: ["Feature flags"],
  summary: "Your feature flags",
  description:
    "Every flag, evaluated for you: off when disabled; on when you (or one of your organizations) are on its allow list; otherwise on for a stable `rollout_percentage` share of users (API keys are bucketed by their organization). A change by staff reaches every isolate within 30 s.",
  security: SECURITY.bearerOrApiKey,
  middleware: [requirePrincipal],
  responses: {
    200: jsonContent(EvaluatedFlagsSchema, "Your flags.", {
      flags: { new_checkout: true, dark_mode: false },
    }),
    ...problemResponses(401),
  },
});
