import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { isFlagEnabled } from "./feature-flags.service";

/**
 * Whether feature flag `key` is on for this request's caller, for code paths:
 * `if (await flag(c, "new_checkout")) { … }`. An unknown key is off. Reads the
 * per-isolate cache, so a change made by staff takes up to 30 s to reach every
 * isolate. Services use `isFlagEnabled(ctx, key)` directly.
 */
export function flag(c: Context<AppEnv>, key: string): Promise<boolean> {
  return isFlagEnabled(c.get("ctx"), key);
}
