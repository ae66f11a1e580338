import { DurableObject } from "cloudflare:workers";

/**
 * Failed-sign-in counting for ONE account (addressed by `user:<id>`, or by a hash of
 * the identifier typed when no such account exists, so unknown accounts behave the
 * same). A Durable Object runs one call at a time and the synchronous storage API
 * has no await between read and write: each check-and-charge is atomic across every
 * isolate and location, which KV cannot be.
 *
 * An attempt is charged BEFORE the password is hashed and refunded when it succeeds,
 * so a burst of concurrent wrong passwords gets at most CLIENT_LIMIT evaluations.
 *
 * - Per client (an IPv4 address, or an IPv6 /64): CLIENT_LIMIT failures within
 *   CLIENT_WINDOW lock that client out of this account for CLIENT_LOCK.
 * - Per account: ACCOUNT_LIMIT failures within ACCOUNT_WINDOW, from anywhere, lock
 *   the account for ACCOUNT_LOCK, but only for clients it does not trust: a client
 *   that signed in to it successfully within TRUST_PERIOD keeps its way in, so a
 *   stranger's failures never refuse the owner's correct password from their usual
 *   network.
 *
 * Times are the caller's (`now`), so tests can move the clock; the clean-up alarm
 * uses the object's own clock and only ever deletes what has expired.
 */

export const SIGN_IN_THROTTLE = {
  clientLimit: 5,
  clientWindowMs: 15 * 60 * 1000,
  clientLockMs: 15 * 60 * 1000,
  accountLimit: 100,
  accountWindowMs: 60 * 60 * 1000,
  accountLockMs: 15 * 60 * 1000,
  trustPeriodMs: 30 * 24 * 60 * 60 * 1000,
  /** Trusted clients remembered per account; the least recently used goes first. */
  maxTrustedClients: 20,
} as const;

type Counter = { failures: number; windowStart: number; lockedUntil: number };

export type AttemptVerdict =
  | {
      allowed: true;
      /** What this attempt locks if it fails: written already, lifted by `succeeded()`. */
      locks: Array<"client" | "account">;
      failures: { client: number; account: number };
    }
  | { allowed: false; scope: "client" | "account"; retryAfterSeconds: number };

const CLIENT = (client: string) => `client:${client}`;
const TRUSTED = (client: string) => `trusted:${client}`;
const ACCOUNT = "account";

function charge(counter: Counter | undefined, now: number, windowMs: number): Counter {
  if (!counter || (now - counter.windowStart >= windowMs && counter.lockedUntil <= now)) {
    return { failures: 1, windowStart: now, lockedUntil: 0 };
  }
  return { ...counter, failures: counter.failures + 1 };
}

export class SignInThrottle extends DurableObject<Cloudflare.Env> {
  /** Checks whether `client` may try a password now and, if so, charges the attempt as a failure. */
  async attempt(client: string, now: number): Promise<AttemptVerdict> {
    assertValid(client, now);
    const kv = this.ctx.storage.kv;
    const clientCounter = kv.get<Counter>(CLIENT(client));
    if (clientCounter && clientCounter.lockedUntil > now) {
      return {
        allowed: false,
        scope: "client",
        retryAfterSeconds: secondsUntil(clientCounter.lockedUntil, now),
      };
    }
    const accountCounter = kv.get<Counter>(ACCOUNT);
    const trusted = this.isTrusted(client, now);
    if (!trusted && accountCounter && accountCounter.lockedUntil > now) {
      return {
        allowed: false,
        scope: "account",
        retryAfterSeconds: secondsUntil(accountCounter.lockedUntil, now),
      };
    }

    const locks: Array<"client" | "account"> = [];
    const nextClient = charge(clientCounter, now, SIGN_IN_THROTTLE.clientWindowMs);
    if (nextClient.failures >= SIGN_IN_THROTTLE.clientLimit) {
      nextClient.lockedUntil = now + SIGN_IN_THROTTLE.clientLockMs;
      locks.push("client");
    }
    const nextAccount = charge(accountCounter, now, SIGN_IN_THROTTLE.accountWindowMs);
    if (nextAccount.failures >= SIGN_IN_THROTTLE.accountLimit && nextAccount.lockedUntil <= now) {
      nextAccount.lockedUntil = now + SIGN_IN_THROTTLE.accountLockMs;
      locks.push("account");
    }
    kv.put(CLIENT(client), nextClient);
    kv.put(ACCOUNT, nextAccount);
    await this.scheduleCleanUp();
    return {
      allowed: true,
      locks,
      failures: { client: nextClient.failures, account: nextAccount.failures },
    };
  }

  /**
   * The charged attempt was right: the client's failures are forgotten (its lock
   * with them), the account's count gives the attempt back, and the client becomes
   * trusted for TRUST_PERIOD.
   */
  async succeeded(client: string, now: number): Promise<void> {
    assertValid(client, now);
    const kv = this.ctx.storage.kv;
    kv.delete(CLIENT(client));
    const account = kv.get<Counter>(ACCOUNT);
    if (account) {
      const failures = Math.max(0, account.failures - 1);
      kv.put(ACCOUNT, {
        ...account,
        failures,
        lockedUntil: failures < SIGN_IN_THROTTLE.accountLimit ? 0 : account.lockedUntil,
      });
    }
    this.trust(client, now);
    await this.scheduleCleanUp();
  }

  /**
   * Another proof (a magic code, a password reset, a provider or passkey sign-in) showed
   * the client is the owner's: its failures are forgotten and it is trusted.
   */
  async trustClient(client: string, now: number): Promise<void> {
    assertValid(client, now);
    this.ctx.storage.kv.delete(CLIENT(client));
    this.trust(client, now);
    await this.scheduleCleanUp();
  }

  private isTrusted(client: string, now: number): boolean {
    const since = this.ctx.storage.kv.get<number>(TRUSTED(client));
    return since !== undefined && now - since < SIGN_IN_THROTTLE.trustPeriodMs;
  }

  private trust(client: string, now: number): void {
    const kv = this.ctx.storage.kv;
    kv.put(TRUSTED(client), now);
    const trusted = [...kv.list<number>({ prefix: "trusted:" })].sort((a, b) => a[1] - b[1]);
    for (const [key] of trusted.slice(0, Math.max(0, trusted.length - SIGN_IN_THROTTLE.maxTrustedClients))) {
      kv.delete(key);
    }
  }

  /** Storage does not grow: when something is written and no alarm is set, one is set; it deletes what expired. */
  private async scheduleCleanUp(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + SIGN_IN_THROTTLE.clientWindowMs);
    }
  }

  /** Deletes what has expired, then sleeps until the next entry expires (trusted clients last 30 days). */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const kv = this.ctx.storage.kv;
    let nextExpiry = Number.POSITIVE_INFINITY;
    for (const [key, value] of kv.list<Counter | number>()) {
      const expiresAt =
        typeof value === "number"
          ? value + SIGN_IN_THROTTLE.trustPeriodMs
          : Math.max(
              value.lockedUntil,
              value.windowStart +
                (key === ACCOUNT ? SIGN_IN_THROTTLE.accountWindowMs : SIGN_IN_THROTTLE.clientWindowMs),
            );
      if (expiresAt <= now) kv.delete(key);
      else nextExpiry = Math.min(nextExpiry, expiresAt);
    }
    if (Number.isFinite(nextExpiry)) await this.ctx.storage.setAlarm(Math.max(nextExpiry, now + 60_000));
  }
}

function secondsUntil(until: number, now: number): number {
  return Math.max(1, Math.ceil((until - now) / 1000));
}

function assertValid(client: string, now: number): void {
  if (typeof client !== "string" || client.length === 0 || client.length > 100) {
    throw new RangeError("sign-in throttle: the client key must be a short non-empty string");
  }
  if (!Number.isFinite(now)) throw new RangeError("sign-in throttle: the clock returned a non-finite time");
}
