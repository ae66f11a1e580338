import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { mediaTypeOf } from "../../middleware/json-body";
import { OAuthError } from "./oauth.errors";
import type * as routes from "./oauth.routes";
import { basicCredentials, issueClientCredentialsToken, parseTokenParameters } from "./oauth.service";

async function readParameters(c: Context<AppEnv>): Promise<unknown> {
  const mediaType = mediaTypeOf(c.req.header("content-type"));
  if (mediaType === "application/x-www-form-urlencoded") return c.req.parseBody({ all: true });
  if (mediaType === "application/json") {
    try {
      return await c.req.json();
    } catch {
      throw new OAuthError("invalid_request", "The body is not valid JSON.");
    }
  }
  throw new OAuthError(
    "invalid_request",
    "Send the parameters as application/x-www-form-urlencoded (or application/json).",
  );
}

const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

export const token: RouteHandler<typeof routes.token, AppEnv> = async (c) => {
  try {
    const params = parseTokenParameters(await readParameters(c));
    const result = await issueClientCredentialsToken(
      c.get("ctx"),
      params,
      basicCredentials(c.req.header("authorization")),
    );
    return c.json(result, 200, NO_STORE);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return c.json(error.body, error.status, error.headers);
  }
};
