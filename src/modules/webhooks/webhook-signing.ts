/**
 * Endpoint secrets and the Standard Webhooks signature (https://www.standardwebhooks.com/),
 * made with its reference library `standardwebhooks`:
 *
 *   webhook-id: <event id>            the same on every retry, so receivers de-duplicate
 *   webhook-timestamp: <unix seconds> of this attempt (receivers refuse old ones: replay protection)
 *   webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body"> [ v1,<…by the previous secret>]
 *
 * A secret is `whsec_` + base64 of 32 random bytes (the library's format). It is shown
 * once and stored sealed (AES-256-GCM under WEBHOOK_SECRET_ENCRYPTION_KEY, bound to the
 * endpoint id): unlike an API key it cannot be stored hashed, since every delivery is
 * signed with it.
 */
import { Webhook } from "standardwebhooks";
import type { ServiceContext } from "../../lib/context";
import { randomBytes } from "../../lib/crypto";
import { ProblemError } from "../../lib/problem";
import { open, seal } from "../../lib/secret-box";

export const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;

export const webhooksNotConfigured = () =>
  new ProblemError({
    status: 503,
    code: "webhooks_not_configured",
    detail: "Webhook endpoints are not available on this server (WEBHOOK_SECRET_ENCRYPTION_KEY is not set).",
  });

/** A new signing secret: `whsec_` + standard base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  let binary = "";
  for (const byte of randomBytes(SECRET_BYTES)) binary += String.fromCharCode(byte);
  return `${SECRET_PREFIX}${btoa(binary)}`;
}

function encryptionKey(ctx: ServiceContext): string {
  const key = ctx.config.WEBHOOK_SECRET_ENCRYPTION_KEY;
  if (!key) throw webhooksNotConfigured();
  return key;
}

const context = (endpointId: string) => `webhook-endpoint:${endpointId}`;

export function sealSecret(ctx: ServiceContext, endpointId: string, secret: string): Promise<string> {
  return seal(encryptionKey(ctx), new TextEncoder().encode(secret), context(endpointId));
}

/** The secret in `box`, or null (logged) when it does not open: another key, another endpoint's box. */
export async function openSecret(
  ctx: ServiceContext,
  endpointId: string,
  box: string,
): Promise<string | null> {
  const opened = await open(encryptionKey(ctx), box, context(endpointId));
  if (!opened) {
    ctx.logger.error("a webhook secret does not open under WEBHOOK_SECRET_ENCRYPTION_KEY", {
      endpoint_id: endpointId,
    });
    return null;
  }
  return new TextDecoder().decode(opened);
}

/** The three Standard Webhooks headers for one attempt; one signature per secret, space-separated. */
export function signatureHeaders(
  eventId: string,
  sentAt: Date,
  body: string,
  secrets: readonly string[],
): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> {
  return {
    "webhook-id": eventId,
    "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(eventId, sentAt, body)).join(" "),
  };
}
