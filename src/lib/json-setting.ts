/**
 * A configuration variable that holds JSON (BILLING_PLANS, RATE_LIMIT_POLICIES,
 * OIDC_PROVIDERS): the string parsed, then checked by `shape`. Text that is not JSON is
 * refused with `hint`, an example of what the variable should look like, so the
 * configuration error says how to fix it. No imports from the app: src/env.ts uses it.
 */
import { z } from "zod";

export function jsonSetting<T extends z.ZodType>(shape: T, hint: string) {
  return z
    .string()
    .transform((value, ctx): unknown => {
      try {
        return JSON.parse(value);
      } catch {
        ctx.addIssue({ code: "custom", message: hint });
        return z.NEVER;
      }
    })
    .pipe(shape);
}
