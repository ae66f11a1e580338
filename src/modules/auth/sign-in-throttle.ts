/**
 * Password checks go through here: sign-in, the current password of a password change,
 * and re-authentication by `current_password`. Each asks the account's SignInThrottle
 * Durable Object first (check and reserve in one call), and only then runs scrypt, so
 * a locked-out client costs one object call and no hash; the outcome is reported in a
 * second call before the answer leaves, so nobody learns a result that was not counted.
 *
 * The client is its IP address, IPv6 by /64 (one subscriber usually holds a whole
 * /64); see sign-in-throttle.do.ts for the numbers. If the object cannot be reached
 * the check fails closed (503): unthrottled password guessing is worse than a sign-in
 * outage, and magic codes and resets do not depend on it.
 */
import type { ServiceContext } from "../../lib/context";
import { sha256Hex } from "../../lib/crypto";
import { serializeError } from "../../lib/logger";
import { ProblemError, problems } from "../../lib/problem";
import { addressBucket } from "../../lib/rate-limit/client-address";
import { audit } from "../audit/audit.service";
import type { AttemptVerdict, LockSet } from "./sign-in-throttle.do";

/** The account an attempt is against: an existing one, or the identifier typed (so unknown accounts lock alike). */
export type ThrottledAccount = { userId: string } | { identifier: string };

export type PasswordCheck = {
  /** The password was right: the client's failures are forgotten and the client trusted. */
  succeeded(): Promise<void>;
  /** The password was wrong: counted for the client and the account; a lock it set goes to the audit log. */
  failed(): Promise<void>;
};

async function objectName(account: ThrottledAccount): Promise<{ name: string; target: AuditTarget }> {
  if ("userId" in account)
    return { name: `user:${account.userId}`, target: { type: "user", id: account.userId } };
  const hash = await sha256Hex(account.identifier.trim().toLowerCase());
  return { name: `identifier:${hash}`, target: { type: "login_identifier", id: hash } };
}

type AuditTarget = { type: "user" | "login_identifier"; id: string };

function throttleOf(ctx: ServiceContext, name: string) {
  return ctx.env.SIGN_IN_THROTTLE.get(ctx.env.SIGN_IN_THROTTLE.idFromName(name));
}

/** The key a client is counted under: its address, IPv6 by /64. */
export function throttleClient(ctx: ServiceContext): string {
  return addressBucket(ctx.client.ip);
}

export const tooManyAttempts = (retryAfterSeconds: number) =>
  new ProblemError({
    status: 429,
    code: "too_many_attempts",
    detail: `Too many failed attempts. Try again in ${retryAfterSeconds} seconds, or sign in with an emailed code.`,
    extensions: { retry_after: retryAfterSeconds },
    headers: { "Retry-After": String(retryAfterSeconds) },
  });

const throttleUnavailable = (error: unknown, ctx: ServiceContext) => {
  ctx.logger.error("sign-in throttle unreachable; refusing the password check", {
    error: serializeError(error),
  });
  return problems.serviceUnavailable("Password sign-in is unavailable for a moment; try again shortly.");
};

/**
 * Reserves one password check for this client against `account`: 429
 * `too_many_attempts` (with Retry-After) while the client, or the account for an
 * untrusted client, is locked. Call `succeeded()` or `failed()` once the hash is known.
 */
export async function beginPasswordCheck(
  ctx: ServiceContext,
  account: ThrottledAccount,
  now = Date.now(),
): Promise<PasswordCheck> {
  const { name, target } = await objectName(account);
  const client = throttleClient(ctx);
  const throttle = throttleOf(ctx, name);
  let verdict: AttemptVerdict;
  try {
    verdict = await throttle.attempt(client, now);
  } catch (error) {
    throw throttleUnavailable(error, ctx);
  }
  if (!verdict.allowed) throw tooManyAttempts(verdict.retryAfterSeconds);
  const { ticket } = verdict;
  return {
    async succeeded() {
      try {
        await throttle.succeeded(client, ticket, now);
      } catch (error) {
        // The sign-in is right either way; the reservation becomes a failure when it expires.
        ctx.logger.error("could not settle a right password with the sign-in throttle", {
          error: serializeError(error),
        });
      }
    },
    async failed() {
      let locks: LockSet[];
      try {
        locks = await throttle.failed(client, ticket, now);
      } catch (error) {
        // Still counted: the object records the unsettled reservation as a failure when it expires.
        ctx.logger.error("could not record a wrong password with the sign-in throttle", {
          error: serializeError(error),
        });
        return;
      }
      for (const lock of locks) {
        await audit(ctx, {
          action: "auth.lockout",
          target,
          after: {
            scope: lock.scope,
            client: lock.scope === "client" ? client : undefined,
            failures: lock.failures,
            locked_until: new Date(lock.lockedUntil).toISOString(),
            retry_after_seconds: Math.round((lock.lockedUntil - now) / 1000),
          },
        });
      }
    },
  };
}

/**
 * After another proof of ownership (a magic code, a password reset, later providers and
 * passkeys): the client's password failures are forgiven (an owner who mistyped five
 * times and then used a code is not locked out of the password they just set) and the
 * account-wide lock no longer refuses it. Best effort: a failure is logged, never a
 * failed sign-in.
 */
export async function trustSignInClient(
  ctx: ServiceContext,
  userId: string,
  now = Date.now(),
): Promise<void> {
  try {
    await throttleOf(ctx, `user:${userId}`).trustClient(throttleClient(ctx), now);
  } catch (error) {
    ctx.logger.warn("could not record a trusted sign-in client", {
      user_id: userId,
      error: serializeError(error),
    });
  }
}
