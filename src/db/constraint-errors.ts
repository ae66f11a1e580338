/**
 * Which SQLite constraint a failed D1 write broke. Services let the database
 * enforce uniqueness and references, which is race-free where a check-then-write
 * is not, and map the failure to their own 4xx (email_taken, slug_taken ...).
 *
 * Drizzle wraps D1's error ("Failed query: …", the SQLite message on a cause), so
 * the chain of causes is read; the innermost message that names a constraint wins:
 * it is the database's own, where an outer message also repeats the query's
 * parameters (which a client chose).
 */
export type ConstraintFailure =
  /**
   * `target` is what SQLite names: the column(s) of a unique index on columns
   * ("categories.slug", "a.x, a.y"), or the index of an expression index
   * ("categories_name_unique" for one on lower(name)).
   */
  { kind: "unique"; target: string } | { kind: "foreign_key" };

/** How deep into the causes to look: drizzle adds one level, D1 sometimes another. */
const MAX_CAUSE_DEPTH = 5;

// "UNIQUE constraint failed: categories.slug", or "…: index 'categories_name_unique'" for an expression index.
const UNIQUE_FAILED = /UNIQUE constraint failed: (?:index '([^']+)'|([\w.]+(?:, [\w.]+)*))/i;
const FOREIGN_KEY_FAILED = /FOREIGN KEY constraint failed/i;

function readFailure(message: string): ConstraintFailure | null {
  if (FOREIGN_KEY_FAILED.test(message)) return { kind: "foreign_key" };
  const unique = UNIQUE_FAILED.exec(message);
  if (unique) return { kind: "unique", target: unique[1] ?? unique[2] ?? "" };
  return null;
}

/** The constraint a failed write broke, or null when the error is not a constraint failure. */
export function constraintFailure(error: unknown): ConstraintFailure | null {
  let found: ConstraintFailure | null = null;
  for (
    let cause = error, depth = 0;
    cause instanceof Error && depth < MAX_CAUSE_DEPTH;
    cause = cause.cause, depth++
  ) {
    found = readFailure(cause.message) ?? found;
  }
  return found;
}
