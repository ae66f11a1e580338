/**
 * Billing alerts: a failed payment, credits running low, a subscription canceled.
 * Each goes to every owner and billing member of the organization as an in-app
 * `billing_alert` notification (notify()) and as the `billing_alert` email, which
 * carries the amounts and the billing link (the generic notification email is off
 * for this type by default, so nobody gets two).
 *
 * Alerts are best effort and at most once: the callers send them after the state
 * change they report is recorded, one recipient's failure is logged and does not
 * stop the others, and nothing is retried (a duplicate "payment failed" email is
 * worse than a missing one, which the billing page and Stripe's own emails cover).
 */
import { and, eq, inArray } from "drizzle-orm";
import { memberships, users } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import { serializeError } from "../../lib/logger";
import { notify } from "../notifications/notifications.service";
import type { OrgContext } from "../orgs/org-context";
import type { OrgRole } from "../orgs/permissions";
import { billingPageUrl } from "./billing.urls";

export type BillingAlert =
  | { alert: "payment_failed"; amount: string; currency: string; next_attempt_at?: string }
  | { alert: "credits_low"; credits_remaining: number }
  | { alert: "subscription_canceled"; ends_at: string };

/** Who hears about billing: the roles that may manage it (src/modules/orgs/permissions.ts, `billing:manage`). */
const RECIPIENT_ROLES: OrgRole[] = ["owner", "billing"];

function describe(alert: BillingAlert, organizationName: string): { title: string; message: string } {
  switch (alert.alert) {
    case "payment_failed":
      return {
        title: `Payment failed for ${organizationName}`,
        message: `We could not collect ${alert.amount} ${alert.currency} for ${organizationName}. Update the payment method to keep the plan.`,
      };
    case "credits_low":
      return {
        title: `${organizationName} is running low on credits`,
        message: `${organizationName} has ${alert.credits_remaining} credit${alert.credits_remaining === 1 ? "" : "s"} left. Work that needs credits is refused once they run out.`,
      };
    case "subscription_canceled":
      return {
        title: `The subscription of ${organizationName} is canceled`,
        message: `The subscription of ${organizationName} is canceled and ends on ${alert.ends_at.slice(0, 10)}.`,
      };
  }
}

/** Notifies and emails every active owner and billing member; returns how many were reached. */
export async function sendBillingAlert(octx: OrgContext, alert: BillingAlert): Promise<number> {
  const organization = octx.organization;
  const recipients = await octx.db
    .select({ id: users.id, email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(
      and(
        eq(memberships.organizationId, organization.id),
        inArray(memberships.role, RECIPIENT_ROLES),
        eq(users.isActive, true),
      ),
    );
  const billingUrl = billingPageUrl(octx, organization.id);
  const text = describe(alert, organization.name);
  // Display text in emails may not contain control characters; names are validated, this is a belt.
  const organizationName = organization.name.replace(/\p{Cc}+/gu, " ").slice(0, 120);
  let reached = 0;
  for (const recipient of recipients) {
    try {
      await notify(octx, recipient.id, {
        type: "billing_alert",
        title: text.title.slice(0, 200),
        message: text.message,
        target_url: billingUrl,
        data: { organization_id: organization.id, ...alert },
      });
      await sendEmail(octx, {
        template: "billing_alert",
        to: recipient.email,
        data: { ...alert, organization_name: organizationName, billing_url: billingUrl },
      });
      reached += 1;
    } catch (error) {
      octx.logger.error("could not deliver a billing alert", {
        organization_id: organization.id,
        user_id: recipient.id,
        alert: alert.alert,
        error: serializeError(error),
      });
    }
  }
  octx.logger.info("billing alert sent", {
    organization_id: organization.id,
    alert: alert.alert,
    recipients: reached,
  });
  return reached;
}
