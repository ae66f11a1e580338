/**
 * The client app's pages Stripe sends people back to, from configuration.
 * `{ORGANIZATION_ID}` in any of them is replaced by the organization's id, so one
 * front end can serve every organization; Stripe itself fills in
 * `{CHECKOUT_SESSION_ID}` in the success URL.
 */
import type { ServiceContext } from "../../lib/context";
import { billingNotConfigured } from "./billing.problems";

const ORGANIZATION_PLACEHOLDER = "{ORGANIZATION_ID}";

const fill = (template: string, organizationId: string) =>
  template.replaceAll(ORGANIZATION_PLACEHOLDER, organizationId);

/** BILLING_SUCCESS_URL and BILLING_CANCEL_URL; 503 `billing_not_configured` when either is missing. */
export function checkoutReturnUrls(ctx: ServiceContext, organizationId: string) {
  const success = ctx.config.BILLING_SUCCESS_URL;
  const cancel = ctx.config.BILLING_CANCEL_URL;
  if (!success || !cancel) {
    ctx.logger.error("billing is not configured: BILLING_SUCCESS_URL and BILLING_CANCEL_URL are required");
    throw billingNotConfigured();
  }
  return { success: fill(success, organizationId), cancel: fill(cancel, organizationId) };
}

/** The app's billing page (BILLING_PORTAL_RETURN_URL), or APP_URL when it is not set. */
export function billingPageUrl(ctx: ServiceContext, organizationId: string): string {
  return fill(ctx.config.BILLING_PORTAL_RETURN_URL ?? ctx.config.APP_URL, organizationId);
}
