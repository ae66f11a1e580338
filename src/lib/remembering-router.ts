/**
 * The app's router: Hono's TrieRouter, with the answers of recent (method, path) pairs kept.
 *
 * Why not Hono's default: its RegExpRouter (one regular expression for the whole app) cannot
 * hold our routes. A static segment and a parameter side by side, both with parameters after
 * them (`/users/me/avatar/upload/{id}/complete` beside `/users/{id}/avatar`), is a shape it refuses,
 * and the contract fixes those paths. So the default falls back to the TrieRouter, which walks
 * its tree over our ~700 registrations (every route, its guards and validators) on every request:
 * ~25 µs of a GET /users/me, about a tenth of the Worker's own JavaScript.
 *
 * A match depends on nothing but the method, the path and the routes, which do not change once
 * the app serves, and Hono only reads what a router answers. So the same pair gets the same
 * answer, kept. Most traffic is a few hot paths (/users/me, a list, a health check), which then
 * cost a map lookup. Bounded: at most MAX_REMEMBERED pairs of paths up to MAX_PATH_LENGTH; when
 * full, everything is forgotten at once, so a client sending endless distinct paths costs a map
 * insert per request and a clear now and then, never memory.
 */
import type { Result, Router } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";

export const MAX_REMEMBERED = 1_000;
export const MAX_PATH_LENGTH = 256;

export class RememberingRouter<T> implements Router<T> {
  readonly name = "RememberingRouter(TrieRouter)";
  readonly #router = new TrieRouter<T>();
  readonly #answers = new Map<string, Result<T>>();

  add(method: string, path: string, handler: T): void {
    // Routes added after a match would make kept answers wrong; Hono adds none once serving.
    this.#answers.clear();
    this.#router.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    if (path.length > MAX_PATH_LENGTH) return this.#router.match(method, path);
    const key = `${method} ${path}`;
    let answer = this.#answers.get(key);
    if (answer === undefined) {
      answer = this.#router.match(method, path);
      if (this.#answers.size >= MAX_REMEMBERED) this.#answers.clear();
      this.#answers.set(key, answer);
    }
    return answer;
  }

  /** How many answers are kept, for tests. */
  get size(): number {
    return this.#answers.size;
  }
}
