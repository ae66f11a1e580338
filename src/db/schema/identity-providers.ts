/**
 * Sign-in with identity providers (Google, GitHub, OIDC): the identities linked to
 * an account, and the two short-lived secrets of one sign-in flow. The flow's
 * secrets (the `state` on the provider's redirect, the one-time code on ours) are
 * stored hashed and spent by a conditional DELETE … RETURNING, so of two requests
 * presenting the same secret only one gets the row. The hourly cron deletes what
 * expired unused (src/modules/auth/identity-providers/provider-sign-in.maintenance.ts).
 */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp } from "./columns";
import { users } from "./users";

/** An account at a provider linked to one of ours: signing in there signs in here. */
export const userIdentities = sqliteTable(
  "user_identities",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** `google`, `github`, or the `id` of an OIDC_PROVIDERS entry. */
    provider: text("provider").notNull(),
    /** The provider's stable id of the person (OIDC `sub`, GitHub's numeric user id): never the email. */
    providerUserId: text("provider_user_id").notNull(),
    /** The address the provider gave at the last sign-in (lower-cased), and whether it said it verified it. */
    email: text("email"),
    emailVerified: integer("email_verified", { mode: "boolean" }).notNull().default(false),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at").notNull(),
  },
  (table) => [
    uniqueIndex("user_identities_provider_user_unique").on(table.provider, table.providerUserId),
    index("user_identities_user_id_idx").on(table.userId, table.createdAt),
  ],
);

/**
 * One sign-in flow between GET /oauth/{provider}/authorize and the provider's return
 * to /callback (10 minutes, single use). It holds what must not travel through the
 * browser: the nonce and PKCE verifier sent toward the provider, and where to send
 * the client back.
 */
export const providerSignInStates = sqliteTable(
  "provider_sign_in_states",
  {
    id: id(),
    /** SHA-256 (hex) of the `state` parameter. */
    stateHash: text("state_hash").notNull(),
    provider: text("provider").notNull(),
    /**
     * SHA-256 (hex) of the browser-binding cookie set by /authorize: the callback must carry it,
     * unless the flow carries the client's own PKCE challenge (then its verifier binds the flow).
     */
    browserBindingHash: text("browser_binding_hash").notNull(),
    /** The OIDC nonce the ID token must carry (GitHub has none, but one is stored anyway). */
    nonce: text("nonce").notNull(),
    /** Our PKCE verifier toward the provider (RFC 7636); the provider saw only its S256 challenge. */
    codeVerifier: text("code_verifier").notNull(),
    /** The client's redirect_uri, one of AUTH_REDIRECT_URLS exactly. */
    redirectUri: text("redirect_uri").notNull(),
    /** `signin` or `link`. */
    mode: text("mode", { enum: ["signin", "link"] }).notNull(),
    /** mode=link: the signed-in account the identity is linked to. */
    linkUserId: text("link_user_id").references(() => users.id, { onDelete: "cascade" }),
    /** The public client's own PKCE challenge toward us (S256), carried to the exchange code. */
    clientCodeChallenge: text("client_code_challenge"),
    expiresAt: timestamp("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("provider_sign_in_states_state_hash_unique").on(table.stateHash),
    index("provider_sign_in_states_expires_at_idx").on(table.expiresAt),
  ],
);

/**
 * The one-time code the callback hands the client on its redirect_uri (60 s, single
 * use): POST /oauth/exchange trades it for a token pair. It carries who the provider
 * verified and what the flow asked for; the account work (sign-up, link, claim) and the
 * session happen at the exchange, once the client has shown the code (and its verifier).
 */
export const providerSignInCodes = sqliteTable(
  "provider_sign_in_codes",
  {
    id: id(),
    /** SHA-256 (hex) of the code. */
    codeHash: text("code_hash").notNull(),
    provider: text("provider").notNull(),
    /** The person the provider verified: its id, address (lower-cased) and names. */
    providerUserId: text("provider_user_id").notNull(),
    email: text("email"),
    emailVerified: integer("email_verified", { mode: "boolean" }).notNull(),
    firstName: text("first_name"),
    lastName: text("last_name"),
    mode: text("mode", { enum: ["signin", "link"] }).notNull(),
    linkUserId: text("link_user_id").references(() => users.id, { onDelete: "cascade" }),
    /** The client's S256 challenge from /authorize: the exchange then needs the matching code_verifier. */
    codeChallenge: text("code_challenge"),
    expiresAt: timestamp("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("provider_sign_in_codes_code_hash_unique").on(table.codeHash),
    index("provider_sign_in_codes_expires_at_idx").on(table.expiresAt),
  ],
);

export type UserIdentity = typeof userIdentities.$inferSelect;
export type ProviderSignInState = typeof providerSignInStates.$inferSelect;
export type ProviderSignInCode = typeof providerSignInCodes.$inferSelect;
