/**
 * Passkeys (WebAuthn credentials) and what their ceremonies need: the opaque user
 * handle the authenticators store, and the single-use challenges of registration and
 * sign-in. Every row goes with its account (foreign keys cascade).
 */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp } from "./columns";
import { users } from "./users";

/** WebAuthn's credential device types: a single-device key (`hwk`) or a synced, multi-device one (`swk`). */
export type PasskeyDeviceType = "singleDevice" | "multiDevice";

export const passkeyCredentials = sqliteTable(
  "passkey_credentials",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The authenticator's credential id, base64url (what `allowCredentials` and assertions name). */
    credentialId: text("credential_id").notNull(),
    /** The COSE public key, base64url. */
    publicKey: text("public_key").notNull(),
    /** The signature counter last seen; 0 for authenticators that keep none (most synced passkeys). */
    counter: integer("counter").notNull().default(0),
    /** Transport hints the browser reported (`internal`, `hybrid`, `usb`, `nfc`, `ble`), handed back in options. */
    transports: text("transports", { mode: "json" }).$type<string[]>().notNull(),
    deviceType: text("device_type").$type<PasskeyDeviceType>().notNull(),
    /** Whether the credential is backed up (synced) now: authenticators report it on every use. */
    backedUp: integer("backed_up", { mode: "boolean" }).notNull(),
    /** The owner's label for it ("MacBook Touch ID"). */
    name: text("name").notNull(),
    /** The authenticator model's AAGUID; all zeros when attestation is `none`, as browsers send it. */
    aaguid: text("aaguid").notNull(),
    createdAt: createdAt(),
    /** The last sign-in with it; null until it is first used. */
    lastUsedAt: timestamp("last_used_at"),
  },
  (table) => [
    uniqueIndex("passkey_credentials_credential_id_unique").on(table.credentialId),
    index("passkey_credentials_user_id_idx").on(table.userId, table.createdAt, table.id),
  ],
);

/**
 * The WebAuthn user handle (`user.id` of the creation options) of each account that
 * has registered a passkey: 32 random bytes, never the email or the account id, so an
 * authenticator stores nothing that names the person. A discoverable sign-in reports
 * it back, and it must be the one of the credential's owner.
 */
export const passkeyUserHandles = sqliteTable(
  "passkey_user_handles",
  {
    userId: text("user_id")
      .primaryKey()
      .references(() => users.id, { onDelete: "cascade" }),
    /** base64url of the 32 bytes. */
    handle: text("handle").notNull(),
    createdAt: createdAt(),
  },
  (table) => [uniqueIndex("passkey_user_handles_handle_unique").on(table.handle)],
);

export type PasskeyChallengePurpose = "register" | "login";

/**
 * A challenge handed out by an options route, spent by the matching verify route
 * (a conditional DELETE … RETURNING: of two requests presenting it, one wins). Five
 * minutes; the hourly cron deletes the ones nobody used.
 */
export const passkeyChallenges = sqliteTable(
  "passkey_challenges",
  {
    id: id(),
    /** base64url of 32 random bytes: what the authenticator signs (clientDataJSON.challenge). */
    challenge: text("challenge").notNull(),
    purpose: text("purpose").$type<PasskeyChallengePurpose>().notNull(),
    /** register: the account adding a passkey; login: the account an email named, when there is one. */
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    /**
     * login with an email: the credential ids offered in `allowCredentials` (decoys included for an
     * address without passkeys); only these may answer. Null: a discoverable sign-in, any credential.
     */
    allowCredentials: text("allow_credentials", { mode: "json" }).$type<string[]>(),
    expiresAt: timestamp("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("passkey_challenges_challenge_unique").on(table.challenge),
    index("passkey_challenges_user_id_idx").on(table.userId),
    index("passkey_challenges_expires_at_idx").on(table.expiresAt),
  ],
);

export type PasskeyCredential = typeof passkeyCredentials.$inferSelect;
export type NewPasskeyCredential = typeof passkeyCredentials.$inferInsert;
export type PasskeyChallenge = typeof passkeyChallenges.$inferSelect;
