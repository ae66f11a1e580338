/**
 * Turns what a person types into a safe FTS5 MATCH expression.
 *
 * FTS5 has its own query language (quotes, AND/OR/NOT, NEAR, column filters, `*`,
 * `^`, parentheses); passing user text through would let `"` or `AND (` end in a
 * syntax error (a 500) or change the query's meaning. So only runs of letters,
 * digits and combining marks are kept, each is quoted as a string (it cannot
 * contain a quote) and made a prefix match, and the terms are ANDed:
 * `Crème "brûlée" OR lap` → `"Crème"* "brûlée"* "OR"* "lap"*`.
 */

/** Terms beyond this are dropped: they only narrow the result and cost index lookups. */
export const MAX_SEARCH_TERMS = 12;

const TERM = /[\p{L}\p{N}\p{M}]+/gu;

/** The MATCH expression for `q`, or null when it has no letter or digit to search for. */
export function ftsMatchExpression(q: string): string | null {
  const terms = q.normalize("NFKC").match(TERM);
  if (!terms) return null;
  return terms
    .slice(0, MAX_SEARCH_TERMS)
    .map((term) => `"${term}"*`)
    .join(" ");
}
