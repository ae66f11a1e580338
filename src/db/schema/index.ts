/** Every table, one file per domain. drizzle-kit reads this folder to generate migrations. */

export * from "./api-keys";
export * from "./audit";
export * from "./auth-tokens";
export * from "./billing";
export * from "./catalog";
export * from "./feature-flags";
export * from "./files";
export * from "./idempotency";
export * from "./identity-providers";
export * from "./mfa";
export * from "./notifications";
export * from "./orgs";
export * from "./passkeys";
export * from "./pre-registrations";
export * from "./push";
export * from "./sessions";
export * from "./sign-in-devices";
export * from "./tasks";
export * from "./users";
export * from "./webhooks";
