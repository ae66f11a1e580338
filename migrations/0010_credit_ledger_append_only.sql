-- Custom SQL migration file, put your code below! ---- The credit ledger is append-only in the database itself: an UPDATE of a row aborts the
-- statement (and its D1 batch), and so does a DELETE while the row's organization exists.
-- Deleting the organization still removes its ledger: SQLite runs ON DELETE CASCADE after the
-- organization row is gone, so the trigger's WHEN is false then. drizzle-kit cannot express
-- triggers, so they live in this custom migration (`drizzle-kit generate --custom`); a later
-- migration that rebuilds `credit_ledger` must create them again.
CREATE TRIGGER `credit_ledger_no_update` BEFORE UPDATE ON `credit_ledger` BEGIN
	SELECT RAISE(ABORT, 'credit_ledger is append-only: rows cannot be updated');
END;
--> statement-breakpoint
CREATE TRIGGER `credit_ledger_no_delete` BEFORE DELETE ON `credit_ledger`
WHEN EXISTS (SELECT 1 FROM `organizations` WHERE `id` = OLD.`organization_id`) BEGIN
	SELECT RAISE(ABORT, 'credit_ledger is append-only: rows go only with their organization');
END;
