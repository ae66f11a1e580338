-- Custom SQL migration file, put your code below! ---- The audit log is append-only in the database itself: any UPDATE or DELETE of a row aborts
-- the statement (and the D1 batch it is part of). drizzle-kit cannot express triggers, so they
-- live in this custom migration (`drizzle-kit generate --custom`).
-- If a later migration rebuilds `audit_logs` (drizzle-kit copies a table for some column
-- changes, and DROP TABLE drops its triggers), re-create both triggers in a custom migration.
-- Pruning old rows is a deliberate act: a migration that drops the delete trigger, deletes,
-- and creates it again, reviewed like any other schema change.
CREATE TRIGGER `audit_logs_no_update` BEFORE UPDATE ON `audit_logs` BEGIN
	SELECT RAISE(ABORT, 'audit_logs is append-only: rows cannot be updated');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_logs_no_delete` BEFORE DELETE ON `audit_logs` BEGIN
	SELECT RAISE(ABORT, 'audit_logs is append-only: rows cannot be deleted');
END;
