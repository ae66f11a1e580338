/**
 * Which SQLite constraint a failed D1 write broke, read through drizzle's
 * wrapping of the D1 error (the message is on the error or one of its causes).
 * The catalog lets the database enforce uniqueness and references, which is
 * race-free, and turns the failure into the right 4xx here.
 */
export type ConstraintFailure = { kind: "unique"; target: string } | { kind: "foreign_key" };

export function constraintFailure(error: unknown): ConstraintFailure | null {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (/FOREIGN KEY constraint failed/i.test(cause.message)) return { kind: "foreign_key" };
    // "UNIQUE constraint failed: categories.slug", or "…: index 'categories_name_unique'" for an expression index.
    const unique = /UNIQUE constraint failed: (?:index '([^']+)'|([\w.]+))/i.exec(cause.message);
    if (unique) return { kind: "unique", target: unique[1] ?? unique[2] ?? "" };
  }
  return null;
}
