import { DurableObject } from "cloudflare:workers";

/**
 * Failed-sign-in counting for ONE account (addressed by `user:<id>`, or by a hash of
 * the identifier typed when no such account exists, so unknown accounts behave the
 * same). A Durable Object runs one call at a time and the synchronous storage API
 * has no await between read and write: each check-and-reserve is atomic across every
 * isolate and location, which KV cannot be.
 *
 * An attempt is reserved BEFORE the password is hashed (`attempt`) and settled once the
 * hash is known (`failed` or `succeeded`). Reservations count like failures in every
 * check, so a burst of concurrent wrong passwords gets at most CLIENT_LIMIT evaluations.
 * They live in the object's memory, not in storage: a right password then writes nothing
 * (no failure to record, no refund), which keeps a sign-in to two calls with no storage
 * write and no wait for one. A reservation that is never settled (the request died between
 * the two calls) counts as a failure once PENDING_TTL has passed; if the object itself was
 * evicted meanwhile, the settle call records a failure on its own.
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
  /** A trusted client's time is written again at most this often (so a sign-in rarely writes). */
  trustRefreshMs: 60 * 60 * 1000,
  /** Trusted clients remembered per account; the least recently used goes first. */
  maxTrustedClients: 20,
  /** How long a reservation waits to be settled before it counts as a failure. */
  pendingTtlMs: 60 * 1000,
} as const;

type Counter = { failures: number; windowStart: number; lockedUntil: number };

/** What an attempt reserved: settle it with `failed` or `succeeded`, passing the ticket back. */
export type AttemptVerdict =
  | { allowed: true; ticket: string }
  | { allowed: false; scope: "client" | "account"; retryAfterSeconds: number };

/** A lock a failure set: what the audit log records. */
export type LockSet = { scope: "client" | "account"; failures: number; lockedUntil: number };

type Reservation = { client: string; expiresAt: number };

const CLIENT = (client: string) => `client:${client}`;
const TRUSTED = (client: string) => `trusted:${client}`;
const ACCOUNT = "account";

/** The counter while its window runs or its lock holds at `now`; undefined once it is spent. */
function live(counter: Counter | undefined, now: number, windowMs: number): Counter | undefined {
  return counter && (now - counter.windowStart < windowMs || counter.lockedUntil > now) ? counter : undefined;
}

function charge(counter: Counter | undefined, now: number, windowMs: number): Counter {
  const current = live(counter, now, windowMs);
  return current
    ? { ...current, failures: current.failures + 1 }
    : { failures: 1, windowStart: now, lockedUntil: 0 };
}

export class SignInThrottle extends DurableObject<Cloudflare.Env> {
  /**
   * Attempts reserved and not yet settled, by ticket. Memory only: see the class comment.
   * Tickets are random, so one issued before a restart never names a reservation made after it.
   */
  private readonly pending = new Map<string, Reservation>();

  /** Checks whether `client` may try a password now and, if so, reserves the attempt. */
  async attempt(client: string, now: number): Promise<AttemptVerdict> {
    assertValid(client, now);
    if (this.settleExpired(now)) await this.scheduleCleanUp();
    const kv = this.ctx.storage.kv;
    const clientCounter = kv.get<Counter>(CLIENT(client));
    if (clientCounter && clientCounter.lockedUntil > now) {
      return {
        allowed: false,
        scope: "client",
        retryAfterSeconds: secondsUntil(clientCounter.lockedUntil, now),
      };
    }
    // Reservations in flight that would reach the limit if they all failed hold the lock they would
    // set: the attempt is refused as if they had failed. None in flight: the next attempt may try.
    const clientPending = this.pendingOf(client);
    const clientFailures =
      (live(clientCounter, now, SIGN_IN_THROTTLE.clientWindowMs)?.failures ?? 0) + clientPending;
    if (clientPending > 0 && clientFailures >= SIGN_IN_THROTTLE.clientLimit) {
      return { allowed: false, scope: "client", retryAfterSeconds: SIGN_IN_THROTTLE.clientLockMs / 1000 };
    }
    const accountCounter = kv.get<Counter>(ACCOUNT);
    const accountLocked = accountCounter !== undefined && accountCounter.lockedUntil > now;
    const accountFailures =
      (live(accountCounter, now, SIGN_IN_THROTTLE.accountWindowMs)?.failures ?? 0) + this.pending.size;
    const accountHeld = this.pending.size > 0 && accountFailures >= SIGN_IN_THROTTLE.accountLimit;
    if ((accountLocked || accountHeld) && !this.isTrusted(client, now)) {
      return {
        allowed: false,
        scope: "account",
        retryAfterSeconds: accountLocked
          ? secondsUntil(accountCounter.lockedUntil, now)
          : SIGN_IN_THROTTLE.accountLockMs / 1000,
      };
    }
    const ticket = crypto.randomUUID();
    this.pending.set(ticket, { client, expiresAt: now + SIGN_IN_THROTTLE.pendingTtlMs });
    return { allowed: true, ticket };
  }

  /** The reserved attempt was wrong: counted for the client and the account; answers the locks it set. */
  async failed(client: string, ticket: string, now: number): Promise<LockSet[]> {
    assertValid(client, now);
    this.pending.delete(ticket);
    this.settleExpired(now);
    const locks = this.recordFailure(client, now);
    await this.scheduleCleanUp();
    return locks;
  }

  /**
   * The reserved attempt was right: the client's failures are forgotten (its lock with
   * them) and the client is trusted for TRUST_PERIOD. Usually writes nothing.
   */
  async succeeded(client: string, ticket: string, now: number): Promise<void> {
    assertValid(client, now);
    this.pending.delete(ticket);
    const settled = this.settleExpired(now);
    if (this.forgiveAndTrust(client, now) || settled) await this.scheduleCleanUp();
  }

  /**
   * Another proof (a magic code, a password reset, a provider or passkey sign-in) showed
   * the client is the owner's: its failures are forgotten and it is trusted.
   */
  async trustClient(client: string, now: number): Promise<void> {
    assertValid(client, now);
    const settled = this.settleExpired(now);
    if (this.forgiveAndTrust(client, now) || settled) await this.scheduleCleanUp();
  }

  private pendingOf(client: string): number {
    let count = 0;
    for (const reservation of this.pending.values()) if (reservation.client === client) count++;
    return count;
  }

  /**
   * Reservations nobody settled in time are failures (the request died after hashing, perhaps);
   * their locks go unaudited. Answers whether any was recorded.
   */
  private settleExpired(now: number): boolean {
    let recorded = false;
    for (const [ticket, reservation] of this.pending) {
      if (reservation.expiresAt > now) continue;
      this.pending.delete(ticket);
      this.recordFailure(reservation.client, now);
      recorded = true;
    }
    return recorded;
  }

  private recordFailure(client: string, now: number): LockSet[] {
    const kv = this.ctx.storage.kv;
    const locks: LockSet[] = [];
    const nextClient = charge(kv.get<Counter>(CLIENT(client)), now, SIGN_IN_THROTTLE.clientWindowMs);
    if (nextClient.failures >= SIGN_IN_THROTTLE.clientLimit && nextClient.lockedUntil <= now) {
      nextClient.lockedUntil = now + SIGN_IN_THROTTLE.clientLockMs;
      locks.push({ scope: "client", failures: nextClient.failures, lockedUntil: nextClient.lockedUntil });
    }
    const nextAccount = charge(kv.get<Counter>(ACCOUNT), now, SIGN_IN_THROTTLE.accountWindowMs);
    if (nextAccount.failures >= SIGN_IN_THROTTLE.accountLimit && nextAccount.lockedUntil <= now) {
      nextAccount.lockedUntil = now + SIGN_IN_THROTTLE.accountLockMs;
      locks.push({ scope: "account", failures: nextAccount.failures, lockedUntil: nextAccount.lockedUntil });
    }
    kv.put(CLIENT(client), nextClient);
    kv.put(ACCOUNT, nextAccount);
    return locks;
  }

  /** Forgets the client's failures and (re)trusts it; answers whether anything was written. */
  private forgiveAndTrust(client: string, now: number): boolean {
    const kv = this.ctx.storage.kv;
    const forgiven = kv.delete(CLIENT(client));
    const since = kv.get<number>(TRUSTED(client));
    if (since !== undefined && now >= since && now - since < SIGN_IN_THROTTLE.trustRefreshMs) return forgiven;
    kv.put(TRUSTED(client), now);
    if (since === undefined) this.forgetLeastRecentlyTrusted();
    return true;
  }

  private isTrusted(client: string, now: number): boolean {
    const since = this.ctx.storage.kv.get<number>(TRUSTED(client));
    return since !== undefined && now - since < SIGN_IN_THROTTLE.trustPeriodMs;
  }

  /** A newly trusted client may push the list past its size: the least recently used go. */
  private forgetLeastRecentlyTrusted(): void {
    const kv = this.ctx.storage.kv;
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
