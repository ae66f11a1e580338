/**
 * `requirePlan()`: a route guard for features sold by plan. Put it after the
 * organization guard, which resolves the organization:
 *
 *   middleware: [requireOrgAccess("org:read"), requirePlan("Pro", "Enterprise")]
 *
 * The organization needs a subscription in an entitled status (`active`,
 * `trialing`, or `past_due` while Stripe retries the payment) and, when plan names
 * are given, to one of those plans (names as in BILLING_PLANS, any letter case).
 * Otherwise: 402 `plan_required`, with `required_plans`, `current_plan` and
 * `subscription_status`. Payment Required rather than 403: the caller may well be
 * allowed; the organization has not paid for it. Services use `assertPlan(octx, plans)`.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../app-env";
import { orgContext } from "../../middleware/require";
import { assertPlan } from "./subscriptions.service";

export function requirePlan(...plans: string[]): MiddlewareHandler<AppEnv> {
  if (plans.some((plan) => plan.trim().length === 0))
    throw new TypeError("requirePlan: plan names must not be empty");
  return async function requirePlan(c, next) {
    await assertPlan(orgContext(c), plans);
    await next();
  };
}
