CREATE TABLE `audit_archives` (
	`id` text PRIMARY KEY NOT NULL,
	`r2_key` text NOT NULL,
	`first_created_at` integer NOT NULL,
	`first_id` text NOT NULL,
	`last_created_at` integer NOT NULL,
	`last_id` text NOT NULL,
	`row_count` integer NOT NULL,
	`bytes` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audit_archives_r2_key_unique` ON `audit_archives` (`r2_key`);--> statement-breakpoint
CREATE INDEX `audit_archives_range_idx` ON `audit_archives` (`first_created_at`,`last_created_at`);