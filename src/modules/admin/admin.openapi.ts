/**
 * What every admin route declares: the Admin tag, bearer security, and the 401/403
 * every one of them can answer (the router refuses anyone but staff before any
 * route runs: see admin.index.ts).
 */
import { problemResponse } from "../../lib/openapi";

export const ADMIN_TAGS = ["Admin"];

export const ADMIN_GUARD_RESPONSES = {
  401: problemResponse(401, "No access token, or one that is not valid (`unauthorized`, `invalid_token`)."),
  403: problemResponse(
    403,
    "Signed in, but not staff; API keys and client-credentials tokens are never staff (`forbidden`).",
  ),
};
