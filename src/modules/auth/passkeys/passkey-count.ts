/**
 * How many passkeys an account has: read by the MFA step (a passkey is offered as a way
 * to finish it) and GET /auth/mfa. A leaf, so the sign-in path does not import the
 * passkeys service.
 */
import { count, eq } from "drizzle-orm";
import { passkeyCredentials } from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";

/** How many passkeys `userId` has (the MFA status shows it). */
export async function countPasskeys(ctx: ServiceContext, userId: string): Promise<number> {
  const row = await ctx.db
    .select({ n: count() })
    .from(passkeyCredentials)
    .where(eq(passkeyCredentials.userId, userId))
    .get();
  return row?.n ?? 0;
}
