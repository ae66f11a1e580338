-- Custom SQL migration file, put your code below! --
-- Full-text search over products (name, description), for GET /api/v1/products?q=.
-- drizzle-kit cannot model virtual tables or triggers, so they live in this custom
-- migration (`drizzle-kit generate --custom`). An external-content FTS5 index: it
-- stores only the index, keyed by the products rowid, and the triggers below keep it
-- in step with every insert, update of the indexed columns, and delete (including
-- the cascade when an account is erased).
-- If a later migration rebuilds `products` (drizzle-kit copies the table for some
-- column changes, and DROP TABLE drops its triggers), re-create these triggers in a
-- custom migration and run the 'rebuild' below again.
CREATE VIRTUAL TABLE `products_fts` USING fts5(
	`name`,
	`description`,
	content = 'products',
	content_rowid = 'rowid',
	tokenize = 'unicode61 remove_diacritics 2',
	prefix = '2 3'
);
--> statement-breakpoint
CREATE TRIGGER `products_fts_after_insert` AFTER INSERT ON `products` BEGIN
	INSERT INTO `products_fts` (`rowid`, `name`, `description`) VALUES (new.`rowid`, new.`name`, new.`description`);
END;
--> statement-breakpoint
CREATE TRIGGER `products_fts_after_delete` AFTER DELETE ON `products` BEGIN
	INSERT INTO `products_fts` (`products_fts`, `rowid`, `name`, `description`) VALUES ('delete', old.`rowid`, old.`name`, old.`description`);
END;
--> statement-breakpoint
CREATE TRIGGER `products_fts_after_update` AFTER UPDATE OF `name`, `description` ON `products` BEGIN
	INSERT INTO `products_fts` (`products_fts`, `rowid`, `name`, `description`) VALUES ('delete', old.`rowid`, old.`name`, old.`description`);
	INSERT INTO `products_fts` (`rowid`, `name`, `description`) VALUES (new.`rowid`, new.`name`, new.`description`);
END;
--> statement-breakpoint
INSERT INTO `products_fts` (`products_fts`) VALUES ('rebuild');
