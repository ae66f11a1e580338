PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_files` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`name` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`status` text NOT NULL,
	`r2_key` text NOT NULL,
	`created_by` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`upload_expires_at` integer NOT NULL,
	`completed_at` integer
);
--> statement-breakpoint
INSERT INTO `__new_files`("id", "organization_id", "name", "content_type", "size", "status", "r2_key", "created_by", "created_at", "upload_expires_at", "completed_at") SELECT "id", "organization_id", "name", "content_type", "size", "status", "r2_key", "created_by", "created_at", "upload_expires_at", "completed_at" FROM `files`;--> statement-breakpoint
DROP TABLE `files`;--> statement-breakpoint
ALTER TABLE `__new_files` RENAME TO `files`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `files_r2_key_unique` ON `files` (`r2_key`);--> statement-breakpoint
CREATE INDEX `files_org_status_created_at_idx` ON `files` (`organization_id`,`status`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `files_org_status_name_idx` ON `files` (`organization_id`,`status`,`name`,`id`);--> statement-breakpoint
CREATE INDEX `files_org_status_size_idx` ON `files` (`organization_id`,`status`,`size`,`id`);--> statement-breakpoint
CREATE INDEX `files_status_upload_expires_at_idx` ON `files` (`status`,`upload_expires_at`);--> statement-breakpoint
CREATE INDEX `files_created_by_idx` ON `files` (`created_by`);