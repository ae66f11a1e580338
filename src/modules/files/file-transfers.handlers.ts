import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { servedContentType } from "../../lib/file-types";
import { ProblemError, problems } from "../../lib/problem";
import { attachmentDisposition } from "../../lib/storage/file-names";
import { receiveUpload as streamIntoR2 } from "../../lib/storage/receive-upload";
import { type TransferGrant, verifyTransferToken } from "../../lib/storage/transfer-tokens";
import type * as routes from "./file-transfers.routes";

/** A user file never runs as a page, even if a browser were talked into rendering it. */
export const DOWNLOAD_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'";

const refused = (reason: "invalid" | "expired") =>
  reason === "expired"
    ? new ProblemError({
        status: 403,
        code: "signed_url_expired",
        detail: "This URL has expired; ask the API for a new one.",
      })
    : new ProblemError({
        status: 403,
        code: "signed_url_invalid",
        detail: "This URL is not one this API signed, or it was altered.",
      });

async function grantFor<Op extends TransferGrant["op"]>(c: Context<AppEnv>, token: string, op: Op) {
  const check = await verifyTransferToken(c.get("ctx").config.JWT_PRIVATE_KEYS, token, op);
  if (!check.ok) throw refused(check.reason);
  return check.grant;
}

export const receiveUpload: RouteHandler<typeof routes.receiveUpload, AppEnv> = async (c) => {
  const grant = await grantFor(c, c.req.valid("query").token, "put");
  const object = await streamIntoR2(c.env.FILES, grant, c.req.raw);
  return c.body(null, 204, { ETag: object.httpEtag });
};

export const serveDownload: RouteHandler<typeof routes.serveDownload, AppEnv> = async (c) => {
  const grant = await grantFor(c, c.req.valid("query").token, "get");
  const object = await c.env.FILES.get(grant.key);
  if (!object) throw problems.notFound("file");
  return new Response(object.body, {
    status: 200,
    headers: {
      "Content-Type": servedContentType(grant.contentType),
      "Content-Length": String(object.size),
      "Content-Disposition": attachmentDisposition(grant.filename),
      ETag: object.httpEtag,
      "Cache-Control": "private, no-store",
      "Content-Security-Policy": DOWNLOAD_CSP,
      "X-Content-Type-Options": "nosniff",
    },
  });
};
