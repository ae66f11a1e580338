/**
 * A D1 session started from a bookmark somebody else handed us (a client's X-D1-Bookmark,
 * a queue message's, a caller's into a Durable Object) that moves to the primary if D1
 * refuses to serve it.
 *
 * Why: parseBookmark() only checks the shape. A value of the right shape that D1 never
 * issued (made up, from another database, or from the future) can make D1 wait for a
 * replica that never catches up and then fail the query. That must not turn a client's
 * header into a 500. The primary holds every commit, so it serves at least what any real
 * bookmark promises: a query the bookmarked session could not run is run once more on a
 * `first-primary` session, and the rest of the unit of work stays there. A query that
 * fails on the primary too fails as it would have anyway.
 *
 * Only bookmark-started sessions are wrapped (a request without a bookmark pays nothing),
 * and they only ever come from reads (src/db/bookmarks.ts), so running a query twice is safe.
 */

/** The part of a D1 session drizzle drives: prepare() and batch(), and the bookmark. */
export type D1SessionClient = Pick<D1DatabaseSession, "prepare" | "batch" | "getBookmark">;

export function withPrimaryFallback(binding: D1Database, bookmark: string): D1SessionClient {
  let session: D1DatabaseSession = binding.withSession(bookmark);
  let onPrimary = false;

  async function attempt<T>(run: (current: D1DatabaseSession) => Promise<T>): Promise<T> {
    try {
      return await run(session);
    } catch (error) {
      if (onPrimary) throw error;
      onPrimary = true;
      session = binding.withSession("first-primary");
      return run(session);
    }
  }

  /** A statement that is prepared and bound on whichever session is current when it runs. */
  class Statement {
    constructor(
      readonly query: string,
      readonly values: unknown[] = [],
    ) {}
    on(current: D1DatabaseSession): D1PreparedStatement {
      return current.prepare(this.query).bind(...this.values);
    }
    bind(...values: unknown[]): Statement {
      return new Statement(this.query, values);
    }
    first(column?: string): Promise<unknown> {
      return attempt((current) =>
        column === undefined ? this.on(current).first() : this.on(current).first(column),
      );
    }
    all(): Promise<D1Result> {
      return attempt((current) => this.on(current).all());
    }
    run(): Promise<D1Result> {
      return attempt((current) => this.on(current).run());
    }
    raw(options?: { columnNames?: boolean }): Promise<unknown[]> {
      return attempt((current) =>
        options?.columnNames ? this.on(current).raw({ columnNames: true }) : this.on(current).raw(),
      );
    }
  }

  return {
    prepare: (query: string) => new Statement(query) as unknown as D1PreparedStatement,
    batch: <T>(statements: D1PreparedStatement[]) =>
      attempt((current) =>
        current.batch<T>((statements as unknown as Statement[]).map((statement) => statement.on(current))),
      ),
    getBookmark: () => session.getBookmark(),
  };
}
