/** The problems billing answers with; each code is documented in PROBLEM_CATALOG (src/lib/problem.ts). */
import { ProblemError, problems } from "../../lib/problem";

/** 402: the organization's balance does not cover `required` credits. */
/** `organizationId` null: nobody can pay (a person without a personal organization). */
export const insufficientCredits = (input: {
  organizationId: string | null;
  balance: number;
  required: number;
}) =>
  new ProblemError({
    status: 402,
    code: "insufficient_credits",
    detail: `This needs ${input.required} credit${input.required === 1 ? "" : "s"}; the organization has ${input.balance}. Buy a credit pack or subscribe to a plan.`,
    extensions: {
      organization_id: input.organizationId,
      balance: input.balance,
      required: input.required,
    },
  });

/** 402: the route needs a subscription (of one of `plans`, when given) that the organization does not have. */
export const planRequired = (input: { plans: readonly string[]; current: string | null; status: string }) =>
  new ProblemError({
    status: 402,
    code: "plan_required",
    detail:
      input.plans.length > 0
        ? `This needs an active subscription to ${input.plans.join(" or ")}.`
        : "This needs an active subscription.",
    extensions: {
      required_plans: [...input.plans],
      current_plan: input.current,
      subscription_status: input.status,
    },
  });

/** 503: the deployment has no Stripe credentials (or no billing URLs); details go to the log, not the client. */
export const billingNotConfigured = () =>
  new ProblemError({
    status: 503,
    code: "billing_not_configured",
    detail: "Billing is not set up on this server.",
  });

/** 503: Stripe could not be reached, answered 5xx or rate limited us: worth retrying. */
export const paymentProviderUnavailable = () =>
  new ProblemError({
    status: 503,
    code: "payment_provider_unavailable",
    detail: "The payment provider is unavailable. Retry in a moment.",
    headers: { "Retry-After": "30" },
  });

/** 502: Stripe refused a request we made (a bug or a misconfiguration on our side, logged with Stripe's request id). */
export const paymentProviderError = () =>
  new ProblemError({
    status: 502,
    code: "payment_provider_error",
    detail: "The payment provider refused the request. Quote request_id when reporting it.",
  });

export const invalidSignature = (detail: string) =>
  new ProblemError({ status: 400, code: "invalid_signature", detail });

export const unknownPrice = (priceId: string, known: readonly string[]) =>
  new ProblemError({
    status: 400,
    code: "unknown_price",
    detail: `"${priceId}" is not a price of this API's plans or credit packs (GET /api/v1/billing/plans lists them).`,
    errors: [{ pointer: "/price_id", detail: "Must be a price_id from GET /api/v1/billing/plans." }],
    extensions: { price_ids: [...known] },
  });

export const wrongCheckoutMode = (expected: "subscription" | "payment") =>
  problems.validation(
    [
      {
        pointer: "/mode",
        detail:
          expected === "subscription"
            ? "This price is a subscription plan: use mode `subscription`."
            : "This price is a one-time credit pack: use mode `payment`.",
      },
    ],
    `Invalid mode: this price needs mode \`${expected}\`.`,
  );

export const subscriptionExists = (status: string) =>
  new ProblemError({
    status: 409,
    code: "subscription_exists",
    detail: `The organization already has a subscription (${status}). Change or cancel it in the billing portal (POST …/billing/portal).`,
    extensions: { subscription_status: status },
  });
