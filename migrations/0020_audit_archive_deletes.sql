-- Custom SQL migration file, put your code below! --
-- Audit retention (src/modules/audit/audit-retention.cron.ts): rows older than AUDIT_RETENTION_DAYS
-- are written to R2 as gzip NDJSON, recorded in `audit_archives`, then deleted. The log stays
-- append-only for everything else: the DELETE trigger of 0008 is replaced by one that lets a row
-- go only when BOTH hold, checked by the database whatever SQL asks:
--   * an `audit_archives` record covers it (its (created_at, id) lies in the record's keyset range),
--   * it is older than 30 days (AUDIT_RETENTION_DAYS cannot go lower), so even a forged record
--     cannot open the recent log to deletion.
-- `audit_archives` is append-only too, and refuses a record that covers rows younger than 30 days.
-- 30 days is written here, not read from configuration: a setting the Worker can change is not a
-- guard against the Worker. Changing it is a reviewed migration, like any schema change.
DROP TRIGGER IF EXISTS `audit_logs_no_delete`;
--> statement-breakpoint
CREATE TRIGGER `audit_logs_delete_only_archived` BEFORE DELETE ON `audit_logs`
WHEN OLD.`created_at` > (unixepoch('now') - 30 * 86400) * 1000
	OR NOT EXISTS (
		SELECT 1 FROM `audit_archives` AS a
		WHERE a.`first_created_at` <= OLD.`created_at`
			AND (OLD.`created_at`, OLD.`id`) >= (a.`first_created_at`, a.`first_id`)
			AND (OLD.`created_at`, OLD.`id`) <= (a.`last_created_at`, a.`last_id`)
	)
BEGIN
	SELECT RAISE(ABORT, 'audit_logs is append-only: a row can only be deleted once archived to R2 and older than 30 days');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_archives_no_update` BEFORE UPDATE ON `audit_archives` BEGIN
	SELECT RAISE(ABORT, 'audit_archives is append-only: records cannot be updated');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_archives_no_delete` BEFORE DELETE ON `audit_archives` BEGIN
	SELECT RAISE(ABORT, 'audit_archives is append-only: records cannot be deleted');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_archives_only_old_rows` BEFORE INSERT ON `audit_archives`
WHEN NEW.`last_created_at` > (unixepoch('now') - 30 * 86400) * 1000
	OR (NEW.`first_created_at`, NEW.`first_id`) > (NEW.`last_created_at`, NEW.`last_id`)
BEGIN
	SELECT RAISE(ABORT, 'audit_archives: a record may only cover rows older than 30 days, first before last');
END;
