import { z } from "zod";
import { displayText, formatMoney, formatUtc, httpUrl } from "./fields";
import { type Block, defineTemplate } from "./types";

const common = {
  organization_name: displayText(120),
  /** The billing page or Stripe portal the reader should open. */
  billing_url: httpUrl,
};

export const billingAlert = defineTemplate({
  description:
    "Sent to an organization's owners and billing members: failed payment, low credits, cancellation.",
  schema: z.discriminatedUnion("alert", [
    z.strictObject({
      alert: z.literal("payment_failed"),
      ...common,
      amount: z.string().regex(/^\d{1,12}(\.\d{1,4})?$/, "must be a decimal string such as 19.99"),
      currency: z.string().regex(/^[A-Za-z]{3}$/, "must be an ISO 4217 code"),
      next_attempt_at: z.iso.datetime().optional(),
    }),
    z.strictObject({
      alert: z.literal("credits_low"),
      ...common,
      credits_remaining: z.number().int().min(0),
    }),
    z.strictObject({
      alert: z.literal("subscription_canceled"),
      ...common,
      ends_at: z.iso.datetime(),
    }),
  ]),
  compose: (data, site) => {
    const org = data.organization_name;
    let subject: string;
    let lead: Block;
    switch (data.alert) {
      case "payment_failed":
        subject = `Payment failed for ${org}`;
        lead = {
          kind: "paragraph",
          text: [
            "We could not collect the payment of ",
            { strong: formatMoney(data.amount, data.currency) },
            " for ",
            { strong: org },
            data.next_attempt_at
              ? `. We will try again on ${formatUtc(data.next_attempt_at)}; update the payment method before then to keep your plan.`
              : ". Update the payment method to keep your plan.",
          ],
        };
        break;
      case "credits_low":
        subject = `${org} is running low on credits`;
        lead = {
          kind: "paragraph",
          text: [
            { strong: org },
            " has ",
            { strong: `${data.credits_remaining} credit${data.credits_remaining === 1 ? "" : "s"}` },
            " left. Work that needs credits will be refused once they run out; top up or change plan to avoid an interruption.",
          ],
        };
        break;
      case "subscription_canceled":
        subject = `The ${site.appName} subscription of ${org} is canceled`;
        lead = {
          kind: "paragraph",
          text: [
            "The subscription of ",
            { strong: org },
            ` is canceled and ends on ${formatUtc(data.ends_at)}. You can renew it from the billing page until then.`,
          ],
        };
        break;
    }
    return {
      subject,
      preheader: subject,
      heading: subject,
      blocks: [lead, { kind: "button", label: "Open billing", url: data.billing_url }],
      reason: `You received this email because you manage billing for ${org} on ${site.appName}.`,
    };
  },
});
