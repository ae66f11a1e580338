/**
 * The 5-day rule. An endpoint remembers its first failed attempt since its last
 * success (`failing_since`; any success clears it). A failed attempt made 5 days or
 * more after that moment disables the endpoint (one conditional UPDATE, so it happens
 * once however many deliveries fail at the same time), with a `webhook_endpoint.disable`
 * audit row in the same batch, and the organization's owners are told in the app
 * (`webhook_endpoint_disabled` notification) and by email.
 *
 * The telling is best effort, after the change: one owner's failure is logged and does
 * not stop the others, and nothing is retried (the endpoint's state says it all).
 */
import { and, eq, lte } from "drizzle-orm";
import { memberships, users, type WebhookEndpoint, webhookEndpoints } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { AFTER_CHANGE, auditStatement } from "../audit/audit.service";
import { notify } from "../notifications/notifications.service";
import { systemOrgContext } from "../orgs/org-context";
import { DISABLE_AFTER_FAILING_MS } from "./delivery-schedule";
import { toEndpointDto } from "./webhook-endpoints.service";

/** The page of the client app where owners review an endpoint (APP_URL is the base of every emailed link). */
export const endpointPagePath = (organizationId: string, endpointId: string) =>
  `/orgs/${organizationId}/webhooks/${endpointId}`;

/** Disables the endpoint when it has been failing for 5 days; the endpoint when this call did it. */
export async function disableWhenFailingTooLong(
  ctx: ServiceContext,
  endpointId: string,
  now: number,
): Promise<WebhookEndpoint | undefined> {
  const [[disabled]] = await ctx.db.batch([
    ctx.db
      .update(webhookEndpoints)
      .set({ enabled: false, disabledAt: new Date(now), disabledReason: "failing", updatedAt: new Date(now) })
      .where(
        and(
          eq(webhookEndpoints.id, endpointId),
          eq(webhookEndpoints.enabled, true),
          lte(webhookEndpoints.failingSince, new Date(now - DISABLE_AFTER_FAILING_MS)),
        ),
      )
      .returning(),
    auditStatement(
      ctx,
      {
        action: "webhook_endpoint.disable",
        target: { type: "webhook_endpoint", id: endpointId },
        after: { enabled: false, disabled_reason: "failing" },
      },
      { when: AFTER_CHANGE },
    ),
  ]);
  if (disabled) {
    ctx.logger.warn("webhook endpoint disabled after 5 days of failures", {
      endpoint_id: endpointId,
      organization_id: disabled.organizationId,
      failing_since: disabled.failingSince?.toISOString(),
    });
  }
  return disabled;
}

/** Tells every active owner of the endpoint's organization, in the app and by email; how many were reached. */
export async function announceEndpointDisabled(
  ctx: ServiceContext,
  endpoint: WebhookEndpoint,
  lastFailure: string | undefined,
): Promise<number> {
  let octx: Awaited<ReturnType<typeof systemOrgContext>>;
  try {
    octx = await systemOrgContext(ctx, endpoint.organizationId, "webhooks");
  } catch {
    return 0; // the organization is gone, and its endpoints with it
  }
  const owners = await ctx.db
    .select({ id: users.id, email: users.email, firstName: users.firstName })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(
      and(
        eq(memberships.organizationId, endpoint.organizationId),
        eq(memberships.role, "owner"),
        eq(users.isActive, true),
      ),
    );
  const organizationName = octx.organization.name.replace(/\p{Cc}+/gu, " ").slice(0, 120);
  const path = endpointPagePath(endpoint.organizationId, endpoint.id);
  const dto = toEndpointDto(endpoint);
  let reached = 0;
  for (const owner of owners) {
    try {
      await notify(ctx, owner.id, {
        type: "webhook_endpoint_disabled",
        title: `A webhook endpoint of ${organizationName} was disabled`.slice(0, 200),
        message: `Every delivery to ${endpoint.url.slice(0, 300)} failed for 5 days, so it receives no more events. Fix the receiver, then turn the endpoint back on.`,
        target_url: path,
        data: {
          organization_id: endpoint.organizationId,
          endpoint_id: endpoint.id,
          url: endpoint.url.slice(0, 2048),
        },
      });
      await sendEmail(ctx, {
        template: "webhook_endpoint_disabled",
        to: owner.email,
        data: {
          ...(owner.firstName.trim() ? { name: owner.firstName.replace(/\p{Cc}+/gu, " ").slice(0, 80) } : {}),
          organization_name: organizationName,
          endpoint_url: endpoint.url,
          failing_since: dto.failing_since ?? dto.updated_at,
          disabled_at: dto.disabled_at ?? dto.updated_at,
          ...(lastFailure ? { last_failure: lastFailure } : {}),
          manage_url: new URL(path, ctx.config.APP_URL).toString(),
        },
      });
      reached += 1;
    } catch (error) {
      ctx.logger.error("could not tell an owner that a webhook endpoint was disabled", {
        endpoint_id: endpoint.id,
        user_id: owner.id,
        error: serializeError(error),
      });
    }
  }
  return reached;
}
