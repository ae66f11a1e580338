CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_user_id` text,
	`organization_id` text,
	`type` text NOT NULL,
	`status` text DEFAULT 'PENDING' NOT NULL,
	`payload` text NOT NULL,
	`result` text,
	`error` text,
	`progress` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_retries` integer DEFAULT 3 NOT NULL,
	`run_at` integer NOT NULL,
	`enqueued_at` integer,
	`lease_expires_at` integer,
	`cancel_requested_at` integer,
	`dead_lettered` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`started_at` integer,
	`completed_at` integer,
	`updated_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`owner_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "tasks_one_owner" CHECK(("tasks"."owner_user_id" is null) <> ("tasks"."organization_id" is null))
);
--> statement-breakpoint
CREATE INDEX `tasks_owner_user_created_idx` ON `tasks` (`owner_user_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_owner_user_run_at_idx` ON `tasks` (`owner_user_id`,`run_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_organization_created_idx` ON `tasks` (`organization_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_organization_run_at_idx` ON `tasks` (`organization_id`,`run_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_awaiting_enqueue_idx` ON `tasks` (`run_at`) WHERE "tasks"."status" = 'PENDING' and "tasks"."enqueued_at" is null;