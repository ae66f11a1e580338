/** Column helpers shared by every table, so timestamps and ids look the same everywhere. */
import { sql } from "drizzle-orm";
import { integer, text } from "drizzle-orm/sqlite-core";
import { uuidv7 } from "../../lib/ids";

/** UUIDv7 primary key, generated in the Worker (time-ordered, no round trip). */
export const id = () =>
  text("id")
    .primaryKey()
    .$defaultFn(() => uuidv7());

/** Milliseconds since the epoch, read back as a Date. */
export const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });

export const createdAt = () =>
  timestamp("created_at").notNull().default(sql`(cast(unixepoch('subsecond') * 1000 as integer))`);

export const updatedAt = () =>
  timestamp("updated_at")
    .notNull()
    .default(sql`(cast(unixepoch('subsecond') * 1000 as integer))`)
    .$onUpdateFn(() => new Date());
