CREATE TABLE `email_change_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`new_email` text NOT NULL,
	`old_email` text NOT NULL,
	`token_hash` text NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `email_change_tokens_token_hash_unique` ON `email_change_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `email_change_tokens_user_id_idx` ON `email_change_tokens` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `email_change_tokens_expires_at_idx` ON `email_change_tokens` (`expires_at`);--> statement-breakpoint
ALTER TABLE `email_verification_tokens` ADD `disown_token_hash` text;--> statement-breakpoint
CREATE UNIQUE INDEX `email_verification_tokens_disown_token_hash_unique` ON `email_verification_tokens` (`disown_token_hash`);--> statement-breakpoint
ALTER TABLE `sessions` ADD `auth_time` integer;--> statement-breakpoint
ALTER TABLE `sessions` ADD `amr` text DEFAULT '[]' NOT NULL;