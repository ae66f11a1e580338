/**
 * One Stripe customer per organization, created the first time it is needed
 * (checkout or portal) and stored on its billing account, with the organization id
 * in the customer's metadata.
 *
 * Two first checkouts at once must not create two customers. Both send
 * `customers.create` with the same Idempotency-Key (`customer:<org id>`), so Stripe
 * creates one customer and answers both with it; the id is then stored by a
 * conditional UPDATE (`… WHERE stripe_customer_id IS NULL`) and read back, so
 * whichever request stores first, both go on with the stored one.
 */
import { and, eq, isNull } from "drizzle-orm";
import { billingAccounts } from "../../db/schema";
import { type OrgContext, ownedBy } from "../orgs/org-context";
import { callStripe, type StripeClient } from "./stripe.client";

async function storedCustomerId(octx: OrgContext): Promise<string | null> {
  const row = await octx.db
    .select({ customerId: billingAccounts.stripeCustomerId })
    .from(billingAccounts)
    .where(ownedBy(octx, billingAccounts.organizationId))
    .get();
  return row?.customerId ?? null;
}

/** The organization's Stripe customer id, creating the customer on first use. */
export async function ensureCustomer(octx: OrgContext, stripe: StripeClient): Promise<string> {
  const existing = await storedCustomerId(octx);
  if (existing) return existing;
  const organization = octx.organization;
  const customer = await callStripe(octx, "customers.create", () =>
    stripe.customers.create(
      { name: organization.name, metadata: { organization_id: organization.id } },
      { idempotencyKey: `customer:${organization.id}` },
    ),
  );
  await linkCustomer(octx, customer.id);
  const stored = await storedCustomerId(octx);
  if (!stored) throw new Error("ensureCustomer: the customer id was not stored");
  if (stored !== customer.id) {
    octx.logger.warn("another Stripe customer was stored for this organization first; using it", {
      organization_id: organization.id,
      created: customer.id,
      stored,
    });
  }
  return stored;
}

/** Stores `customerId` as the organization's customer unless it already has one. */
export async function linkCustomer(octx: OrgContext, customerId: string): Promise<void> {
  const now = new Date();
  await octx.db.batch([
    octx.db
      .insert(billingAccounts)
      .values({ organizationId: octx.organization.id, createdAt: now, updatedAt: now })
      .onConflictDoNothing(),
    octx.db
      .update(billingAccounts)
      .set({ stripeCustomerId: customerId, updatedAt: now })
      .where(and(ownedBy(octx, billingAccounts.organizationId), isNull(billingAccounts.stripeCustomerId))),
  ]);
}

/** The organization that owns a Stripe customer, if we created (or were told about) it. */
export async function organizationIdOfCustomer(octx: Pick<OrgContext, "db">, customerId: string) {
  const row = await octx.db
    .select({ organizationId: billingAccounts.organizationId })
    .from(billingAccounts)
    .where(eq(billingAccounts.stripeCustomerId, customerId))
    .get();
  return row?.organizationId;
}
