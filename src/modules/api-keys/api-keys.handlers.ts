import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { orgContext } from "../../middleware/require";
import type * as routes from "./api-keys.routes";
import * as keys from "./api-keys.service";

/** Answers that carry a secret must never be cached by anything between us and the client. */
const NO_STORE = { "Cache-Control": "no-store" };

export const createApiKey: RouteHandler<typeof routes.createApiKey, AppEnv> = async (c) => {
  const octx = orgContext(c);
  const { key, secret } = await keys.createApiKey(octx, c.req.valid("json"));
  c.header("Location", `/api/v1/orgs/${octx.organization.id}/api-keys/${key.id}`);
  return c.json({ ...keys.toApiKeyDto(key), key: secret }, 201, NO_STORE);
};

export const listApiKeys: RouteHandler<typeof routes.listApiKeys, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await keys.listApiKeys(orgContext(c), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    revoked: query["filter[revoked]"],
  });
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const getApiKey: RouteHandler<typeof routes.getApiKey, AppEnv> = async (c) => {
  const key = await keys.getApiKey(orgContext(c), c.req.valid("param").key_id);
  return c.json(keys.toApiKeyDto(key), 200);
};

export const updateApiKey: RouteHandler<typeof routes.updateApiKey, AppEnv> = async (c) => {
  const key = await keys.updateApiKey(orgContext(c), c.req.valid("param").key_id, c.req.valid("json"));
  return c.json(keys.toApiKeyDto(key), 200);
};

export const revokeApiKey: RouteHandler<typeof routes.revokeApiKey, AppEnv> = async (c) => {
  await keys.revokeApiKey(orgContext(c), c.req.valid("param").key_id);
  return c.body(null, 204);
};

export const rotateApiKey: RouteHandler<typeof routes.rotateApiKey, AppEnv> = async (c) => {
  // Without a body the validator hands over {}: no grace period.
  const grace = c.req.valid("json").grace_period_seconds ?? 0;
  const rotated = await keys.rotateApiKey(orgContext(c), c.req.valid("param").key_id, grace);
  return c.json(
    {
      ...keys.toApiKeyDto(rotated.key),
      key: rotated.secret,
      previous_secret_expires_at: rotated.previousSecretExpiresAt.toISOString(),
    },
    200,
    NO_STORE,
  );
};
