/**
 * The JOBS_QUEUE handler of `billing.credits_low`, queued when a debit takes an
 * organization's balance under its alert threshold: the owners and billing members
 * hear about it (billing.alerts.ts). An organization deleted since is not an error.
 */
import type { QueueHandlerDeps } from "../../jobs/queue-handler";
import { ProblemError } from "../../lib/problem";
import { type OrgContext, systemOrgContext } from "../orgs/org-context";
import { sendBillingAlert } from "./billing.alerts";
import type { CreditsLowMessage } from "./billing.messages";

export async function deliverCreditsLowAlert(
  message: CreditsLowMessage,
  deps: QueueHandlerDeps,
): Promise<void> {
  const { ctx } = deps;
  let octx: OrgContext;
  try {
    octx = await systemOrgContext(ctx, message.organization_id, "billing_alert");
  } catch (error) {
    if (error instanceof ProblemError && error.status === 404) {
      deps.logger.info("organization deleted before its credits_low alert; dropped");
      return;
    }
    throw error;
  }
  await sendBillingAlert(octx, { alert: "credits_low", credits_remaining: message.credits_remaining });
}
