/**
 * D1 bookmarks as they cross our edges (the X-D1-Bookmark header, queue messages, calls
 * into Durable Objects), and the rule that picks where a request's D1 session starts.
 * docs/SCALING.md#read-replicas says what consistency each kind of request gets.
 */
import type { D1SessionStart } from "./client";

/** Request and response header carrying a D1 bookmark (CORS allows and exposes it). */
export const D1_BOOKMARK_HEADER = "X-D1-Bookmark";

/**
 * The shape D1 gives its bookmarks, e.g. `00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683`
 * (local D1 answers the same shape with zeros). A value handed to withSession() that is not a
 * bookmark makes every query of the session fail, so only this exact shape is ever passed on.
 */
const D1_BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/** The bookmark in `value` when it has D1's shape; null for anything else (absent, empty, too long, forged junk). */
export function parseBookmark(value: string | null | undefined): string | null {
  return typeof value === "string" && D1_BOOKMARK.test(value) ? value : null;
}

/** Methods that do not write: their reads may start on a replica. */
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Where an HTTP request's D1 session starts:
 * - a write (any method but GET/HEAD/OPTIONS) starts on the primary, which holds every commit,
 *   so its checks (a conditional UPDATE's guard, a uniqueness probe) see the newest data, and
 *   a client bookmark cannot add anything to that;
 * - a read that brings a bookmark starts from it: a replica serves it only once it has caught
 *   up to that point, so the client reads at least what it wrote before;
 * - any other read may start on the nearest replica, possibly behind by replication lag.
 */
export function requestSessionStart(method: string, bookmark: string | null): D1SessionStart {
  if (!READ_METHODS.has(method.toUpperCase())) return "first-primary";
  return bookmark ?? "first-unconstrained";
}
