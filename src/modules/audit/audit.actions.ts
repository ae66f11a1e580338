/**
 * Every action the audit log records, with what it means. A closed list, so
 * `filter[action]` can be validated and documented, and a typo in a call site is
 * a type error rather than a row nobody finds.
 */
export const AUDIT_ACTIONS = {
  // Admin API writes (actor: a staff user)
  "user.update": "Staff changed `is_active` and/or `is_staff` of an account.",
  "user.sessions_revoke": "Staff signed an account out of every device.",
  "user.delete": "Staff erased an account.",
  "task.retry": "Staff sent a FAILURE task back to the queue.",
  "task.cancel": "Staff cancelled a task (or asked a running one to stop).",
  "notification.broadcast": "Staff queued a system notification to many users.",
  "feature_flag.create": "Staff created a feature flag.",
  "feature_flag.update": "Staff changed a feature flag.",
  "feature_flag.delete": "Staff deleted a feature flag.",
  "audit_log.export":
    "Staff exported the audit log (`GET /admin/v1/audit-logs/export`); `after` holds the `from`/`to` range asked for.",
  // Security events
  "auth.lockout":
    "Failed password checks locked a client out of an account (5 in 15 minutes), or every unknown client out of it (100 in an hour).",
  "auth.account_claimed":
    "The owner of a never-verified account's address proved it (magic code or link, password reset, a provider's verified email): the password set before was cleared, every session revoked, the API keys it had created revoked and its passkeys removed.",
  "auth.account_disowned":
    'The owner of an address used the verification email\'s "this was not me" link: the never-verified account was erased.',
  "auth.email_change_requested":
    "An account asked to change its address; a confirmation link went to the new one.",
  "auth.email_changed": "An account's address changed through the confirmation link sent to the new address.",
  "auth.password_reset": "A password was set through an emailed reset link; every session was revoked.",
  "auth.identity_linked":
    "An account at an identity provider was linked to an account (by its signed-in owner, or by a sign-in whose address the provider verified).",
  "auth.identity_unlinked": "An account unlinked one of its identity-provider accounts.",
  "auth.refresh_token_reuse": "A spent refresh token was presented again; its session was revoked.",
  "auth.mfa_enabled":
    "An account confirmed an authenticator app (TOTP): its sign-ins now need a second factor.",
  "auth.mfa_disabled": "An account removed its authenticator app and recovery codes (re-authenticated).",
  "auth.recovery_codes_regenerated":
    "An account replaced its recovery codes (re-authenticated); the old set stopped working.",
  "auth.recovery_code_used":
    "A recovery code finished a sign-in (or re-authentication) instead of the authenticator app.",
  "org.require_mfa_changed": "An owner turned the organization's `require_mfa` policy on or off.",
  "auth.passkey_added":
    "A person registered a passkey on their account (a new way to sign in); they were emailed about it.",
  "auth.passkey_renamed": "A person renamed one of their passkeys.",
  "auth.passkey_removed":
    "A person removed one of their passkeys (after re-authenticating); they were emailed about it.",
  "api_key.create": "A member created an organization API key.",
  "api_key.revoke": "A member revoked an organization API key.",
  "member.role_change": "A member's role in an organization changed.",
  "webhook_endpoint.create": "A member or an API key (`webhooks:write`) created a webhook endpoint.",
  "webhook_endpoint.update":
    "A webhook endpoint's URL, description, event types or enabled state changed (`before`/`after`).",
  "webhook_endpoint.delete": "A webhook endpoint was deleted, with its delivery log.",
  "webhook_endpoint.rotate_secret":
    "A webhook endpoint's signing secret was rotated; the previous one signs beside it for 24 hours.",
  "webhook_endpoint.disable":
    "The platform disabled a webhook endpoint whose deliveries had failed for 5 days without a success.",
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
export const auditActionNames = Object.keys(AUDIT_ACTIONS) as [AuditAction, ...AuditAction[]];

/** What an audit row is about. */
export const auditTargetTypes = [
  "user",
  "task",
  "broadcast",
  "feature_flag",
  "api_key",
  "membership",
  "organization",
  "webhook_endpoint",
  "login_identifier",
  "audit_log",
  // Per-IP lockouts of the first wave's KV throttle; nothing writes it since the SignInThrottle Durable
  // Object counts per account and client, but older rows keep it (and `filter[target_type]=ip` finds them).
  "ip",
] as const;
export type AuditTargetType = (typeof auditTargetTypes)[number];
