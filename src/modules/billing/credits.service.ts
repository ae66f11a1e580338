/**
 * Credits: an append-only ledger and a balance that always agrees with it.
 *
 * D1 has no interactive transactions, so every change is ONE db.batch (one
 * transaction) of two statements:
 *
 *   1. UPDATE billing_accounts SET credit_balance = credit_balance + :amount
 *        WHERE organization_id = :org
 *          AND credit_balance + :amount >= 0                  -- a debit never overdraws
 *          AND NOT EXISTS (ledger entry with :reference)       -- each reference applies once
 *   2. INSERT INTO credit_ledger SELECT …, credit_balance … FROM billing_accounts
 *        WHERE organization_id = :org AND changes() = 1      -- only if (1) hit
 *
 * The balance check and the decrement are one statement, so concurrent debits
 * serialise in D1 and can never take the balance below zero; the ledger row exists
 * exactly when the balance moved, with the balance it left. Sum(amount) over an
 * organization's ledger is therefore always its balance.
 */
import { and, eq, inArray, notExists, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { billingAccounts, type CreditEntryKind, type CreditLedgerEntry, creditLedger } from "../../db/schema";
import { enqueue } from "../../jobs/enqueue";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { serializeError } from "../../lib/logger";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { type OrgContext, ownedBy } from "../orgs/org-context";
import { dispatchWebhookEvents, webhookEventStatement } from "../webhooks/outbox";
import { insufficientCredits } from "./billing.problems";

export type CreditChange = {
  kind: CreditEntryKind;
  /** Signed; never 0. */
  amount: number;
  /** Unique per organization: the same reference is applied at most once (`invoice:in_…`, `task:<id>`). */
  reference: string;
  description: string;
};

export type CreditChangeResult =
  | { status: "applied"; balance: number; entry: CreditLedgerEntry }
  /** The reference was applied before (by this call's earlier attempt, a redelivery …): nothing changed. */
  | { status: "duplicate"; balance: number; entry: CreditLedgerEntry }
  | { status: "insufficient"; balance: number };

const MAX_REFERENCE = 200;
const MAX_DESCRIPTION = 300;

function checkChange(change: CreditChange): void {
  if (!Number.isSafeInteger(change.amount) || change.amount === 0) {
    throw new Error(`credit change: amount must be a non-zero integer (got ${change.amount})`);
  }
  if (change.reference.length === 0 || change.reference.length > MAX_REFERENCE) {
    throw new Error("credit change: reference must be 1–200 characters");
  }
  const positive: readonly CreditEntryKind[] = ["grant", "purchase", "refund"];
  if (positive.includes(change.kind) !== change.amount > 0 && change.kind !== "adjustment") {
    throw new Error(`credit change: a ${change.kind} cannot have amount ${change.amount}`);
  }
}

/**
 * Applies one change to the organization's balance and ledger, atomically and at
 * most once per reference. A change that would take the balance below zero is not
 * applied (`insufficient`); an organization without a billing account has 0 credits.
 */
export async function applyCreditChange(
  octx: OrgContext,
  change: CreditChange,
  /** Statements for the end of the same batch (after the ledger INSERT: `changes() = 1` when it applied). */
  after: BatchItem<"sqlite">[] = [],
): Promise<CreditChangeResult> {
  checkChange(change);
  const db = octx.db;
  const organizationId = octx.organization.id;
  const now = new Date();
  const entryId = uuidv7(now.getTime());
  const description = change.description.slice(0, MAX_DESCRIPTION);
  const sameReference = db
    .select({ one: sql`1` })
    .from(creditLedger)
    .where(and(ownedBy(octx, creditLedger.organizationId), eq(creditLedger.reference, change.reference)));

  const ensureAccount = db
    .insert(billingAccounts)
    .values({ organizationId, createdAt: now, updatedAt: now })
    .onConflictDoNothing();
  const move = db
    .update(billingAccounts)
    .set({ creditBalance: sql`${billingAccounts.creditBalance} + ${change.amount}`, updatedAt: now })
    .where(
      and(
        ownedBy(octx, billingAccounts.organizationId),
        sql`${billingAccounts.creditBalance} + ${change.amount} >= 0`,
        notExists(sameReference),
      ),
    );
  const record = db
    .insert(creditLedger)
    .select(
      db
        .select({
          id: sql<string>`${entryId}`.as("id"),
          organizationId: billingAccounts.organizationId,
          kind: sql<CreditEntryKind>`${change.kind}`.as("kind"),
          amount: sql<number>`${change.amount}`.as("amount"),
          balanceAfter: billingAccounts.creditBalance,
          reference: sql<string>`${change.reference}`.as("reference"),
          description: sql<string>`${description}`.as("description"),
          createdAt: sql<number>`${now.getTime()}`.as("created_at"),
        })
        .from(billingAccounts)
        // changes() is the row count of the UPDATE just before, in this same batch (one connection).
        .where(and(ownedBy(octx, billingAccounts.organizationId), sql`changes() = 1`)),
    )
    .returning();

  // Debits need no account row: without one there is nothing to spend.
  let recorded: CreditLedgerEntry[];
  if (change.amount > 0) {
    [, , recorded] = await db.batch([ensureAccount, move, record, ...after]);
  } else {
    [, recorded] = await db.batch([move, record, ...after]);
  }
  const entry = recorded[0];
  if (entry) return { status: "applied", balance: entry.balanceAfter, entry };
  const [previous, balance] = await Promise.all([
    findCreditEntry(octx, change.reference),
    creditBalance(octx),
  ]);
  if (previous) return { status: "duplicate", balance, entry: previous };
  return { status: "insufficient", balance };
}

/** The ledger entry recorded under `reference`, if any (e.g. whether a task was charged). */
export function findCreditEntry(octx: OrgContext, reference: string): Promise<CreditLedgerEntry | undefined> {
  return octx.db
    .select()
    .from(creditLedger)
    .where(and(ownedBy(octx, creditLedger.organizationId), eq(creditLedger.reference, reference)))
    .get();
}

export async function creditBalance(octx: OrgContext): Promise<number> {
  const row = await octx.db
    .select({ balance: billingAccounts.creditBalance })
    .from(billingAccounts)
    .where(ownedBy(octx, billingAccounts.organizationId))
    .get();
  return row?.balance ?? 0;
}

/** Adds credits (grant, purchase, refund, positive adjustment). Idempotent per reference. */
export async function addCredits(
  octx: OrgContext,
  change: CreditChange & { kind: "grant" | "purchase" | "refund" | "adjustment" },
): Promise<CreditChangeResult> {
  if (change.amount <= 0) throw new Error("addCredits: amount must be positive");
  const result = await applyCreditChange(octx, change);
  if (result.status === "applied") {
    octx.logger.info("credits added", {
      organization_id: octx.organization.id,
      kind: change.kind,
      amount: change.amount,
      reference: change.reference,
      balance: result.balance,
    });
  }
  return result;
}

/**
 * Spends `amount` credits (usage), at most once per reference: 402
 * `insufficient_credits` when the balance does not cover it. A repeated reference
 * answers the first debit without spending again. Crossing below
 * BILLING_LOW_CREDITS_THRESHOLD queues a `credits_low` alert to owners and billing members.
 */
export async function spendCredits(
  octx: OrgContext,
  input: { amount: number; reference: string; description: string },
): Promise<Extract<CreditChangeResult, { status: "applied" | "duplicate" }>> {
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
    throw new Error("spendCredits: amount must be a positive integer");
  }
  const lowEvent = creditsLowEvent(octx, input.amount);
  const result = await applyCreditChange(
    octx,
    { kind: "usage", ...input, amount: -input.amount },
    lowEvent ? [lowEvent.statement] : [],
  );
  if (result.status === "applied" && lowEvent) await dispatchWebhookEvents(octx, [lowEvent]);
  if (result.status === "insufficient") {
    throw insufficientCredits({
      organizationId: octx.organization.id,
      balance: result.balance,
      required: input.amount,
    });
  }
  if (result.status === "applied") await alertWhenCrossingThreshold(octx, result.balance, input.amount);
  return result;
}

/**
 * The credits.low webhook event of a debit of `spent`, for the end of its batch: written
 * only when the debit applied (the ledger INSERT before it changed a row) and took the
 * balance from ≥ threshold to below it, the same crossing rule as the alert below. The
 * balance left is read inside the batch.
 */
function creditsLowEvent(octx: OrgContext, spent: number) {
  const threshold = octx.config.BILLING_LOW_CREDITS_THRESHOLD;
  if (threshold === 0) return null;
  const balance = sql`(select ${billingAccounts.creditBalance} from ${billingAccounts} where ${billingAccounts.organizationId} = ${octx.organization.id})`;
  return webhookEventStatement(
    octx,
    octx.organization.id,
    "credits.low",
    { organization_id: octx.organization.id, credits_remaining: 0, threshold },
    {
      when: sql`changes() = 1 and ${balance} < ${threshold} and ${balance} + ${spent} >= ${threshold}`,
      computed: { credits_remaining: balance },
    },
  );
}

/** One alert per crossing: only the debit that takes the balance from ≥ threshold to below it sends one. */
async function alertWhenCrossingThreshold(octx: OrgContext, balance: number, spent: number): Promise<void> {
  const threshold = octx.config.BILLING_LOW_CREDITS_THRESHOLD;
  if (threshold === 0 || balance >= threshold || balance + spent < threshold) return;
  try {
    await enqueue(
      octx.env.JOBS_QUEUE,
      {
        type: "billing.credits_low",
        organization_id: octx.organization.id,
        credits_remaining: balance,
      },
      { d1Session: octx.dbSession },
    );
  } catch (error) {
    // The debit stands; a lost warning is logged, never a failed spend.
    octx.logger.error("could not queue the credits_low alert", {
      organization_id: octx.organization.id,
      error: serializeError(error),
    });
  }
}

export type ListLedgerInput = { limit: number; cursor?: string; sort: SortTerm[]; kinds?: CreditEntryKind[] };

/** The organization's ledger, newest first unless sorted otherwise, in keyset pages. */
export async function listCreditLedger(
  octx: OrgContext,
  input: ListLedgerInput,
): Promise<Page<CreditLedgerEntry>> {
  const page = keysetPage<CreditLedgerEntry>({
    sort: input.sort,
    columns: { created_at: { column: creditLedger.createdAt, read: (row) => row.createdAt.getTime() } },
    tiebreaker: { column: creditLedger.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const where = and(
    ownedBy(octx, creditLedger.organizationId),
    input.kinds ? inArray(creditLedger.kind, input.kinds) : undefined,
  );
  return listPage(octx.db, page, {
    rows: octx.db.select().from(creditLedger).$dynamic(),
    countFrom: creditLedger,
    where,
  });
}
