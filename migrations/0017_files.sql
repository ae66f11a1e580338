CREATE TABLE `avatar_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`r2_key` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `avatar_uploads_r2_key_unique` ON `avatar_uploads` (`r2_key`);--> statement-breakpoint
CREATE INDEX `avatar_uploads_user_id_idx` ON `avatar_uploads` (`user_id`);--> statement-breakpoint
CREATE INDEX `avatar_uploads_expires_at_idx` ON `avatar_uploads` (`expires_at`);--> statement-breakpoint
CREATE TABLE `files` (
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
	`completed_at` integer,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `files_r2_key_unique` ON `files` (`r2_key`);--> statement-breakpoint
CREATE INDEX `files_org_status_created_at_idx` ON `files` (`organization_id`,`status`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `files_org_status_name_idx` ON `files` (`organization_id`,`status`,`name`,`id`);--> statement-breakpoint
CREATE INDEX `files_org_status_size_idx` ON `files` (`organization_id`,`status`,`size`,`id`);--> statement-breakpoint
CREATE INDEX `files_status_upload_expires_at_idx` ON `files` (`status`,`upload_expires_at`);--> statement-breakpoint
CREATE TABLE `object_purges` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`r2_key` text NOT NULL,
	`not_before` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `object_purges_not_before_idx` ON `object_purges` (`not_before`);