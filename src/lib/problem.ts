/**
 * RFC 9457 problem details. Every error the API answers is one of these, built
 * from a ProblemError thrown anywhere (service, middleware, handler) and turned
 * into a response by the app's single error handler.
 */

export type FieldError = {
  /** JSON pointer into the request body, e.g. "/email" (body errors). */
  pointer?: string;
  /** Name of the query, path or header parameter (non-body errors). */
  parameter?: string;
  /** Where the parameter was: "query", "path" or "header". */
  location?: "query" | "path" | "header";
  detail: string;
};

export type ProblemBody = {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
};

/** Titles for the status codes the API uses (RFC 9110 reason phrases). */
const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

export function statusTitle(status: number): string {
  return STATUS_TITLES[status] ?? (status >= 500 ? "Server Error" : "Client Error");
}

/** Problem `type` URIs are relative to the API and documented at GET /problems/{code}. */
export function problemType(code: string): string {
  return `/problems/${code}`;
}

export type ProblemInit = {
  status: number;
  code: string;
  detail: string;
  title?: string;
  errors?: FieldError[];
  /** Extra members (e.g. `violated_policies`, `allowed_types`). */
  extensions?: Record<string, unknown>;
  /** Response headers such as WWW-Authenticate, Retry-After or Allow. */
  headers?: Record<string, string>;
};

export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly errors?: FieldError[];
  readonly extensions?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(init: ProblemInit) {
    super(init.detail);
    this.name = "ProblemError";
    this.status = init.status;
    this.code = init.code;
    this.title = init.title ?? statusTitle(init.status);
    this.errors = init.errors;
    this.extensions = init.extensions;
    this.headers = init.headers;
  }

  toBody(context: { instance?: string; requestId?: string }): ProblemBody {
    return {
      type: problemType(this.code),
      title: this.title,
      status: this.status,
      detail: this.message,
      instance: context.instance,
      code: this.code,
      request_id: context.requestId,
      ...(this.errors ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

/** Shorthands for the problems most modules throw. */
/**
 * RFC 6750's error_description is printable ASCII without `"` or `\`: an ellipsis or an
 * accented letter would reach browsers as raw UTF-8 bytes in a header (a TypeError in fetch).
 */
function headerSafe(text: string): string {
  return text
    .replaceAll("…", "...")
    .replaceAll('"', "'")
    .replaceAll("\\", "/")
    .replace(/[^\x20-\x7E]/g, "?");
}

export const problems = {
  validation: (errors: FieldError[], detail = "The request is not valid.") =>
    new ProblemError({ status: 400, code: "validation_failed", detail, errors }),
  badRequest: (code: string, detail: string) => new ProblemError({ status: 400, code, detail }),
  unauthorized: (detail = "Authentication is required.", code = "unauthorized", error = "invalid_token") =>
    new ProblemError({
      status: 401,
      code,
      detail,
      headers: {
        "WWW-Authenticate": `Bearer error="${error}", error_description="${headerSafe(detail)}"`,
      },
    }),
  forbidden: (detail = "You are not allowed to do this.", code = "forbidden") =>
    new ProblemError({ status: 403, code, detail }),
  notFound: (what = "resource") =>
    new ProblemError({ status: 404, code: "not_found", detail: `The ${what} does not exist.` }),
  conflict: (code: string, detail: string) => new ProblemError({ status: 409, code, detail }),
  payloadTooLarge: (limitBytes: number) =>
    new ProblemError({
      status: 413,
      code: "payload_too_large",
      detail: `The request body is larger than the ${limitBytes} bytes this route accepts.`,
      extensions: { max_bytes: limitBytes },
    }),
  unsupportedMediaType: (accepted: string[]) =>
    new ProblemError({
      status: 415,
      code: "unsupported_media_type",
      detail: `This route accepts ${accepted.join(", ")}.`,
      extensions: { accepted_media_types: accepted },
      headers: { "Accept-Post": accepted.join(", ") },
    }),
  serviceUnavailable: (detail: string) =>
    new ProblemError({ status: 503, code: "service_unavailable", detail }),
};

/**
 * The documented problem codes, served at GET /problems/{code} and listed in
 * docs/conventions.md and each module's page under docs/. Modules add their codes here so clients
 * have one place to look.
 */
export const PROBLEM_CATALOG: Record<string, { status: number; description: string }> = {
  validation_failed: {
    status: 400,
    description: "A field, query or path parameter failed validation; `errors` names each one.",
  },
  malformed_json: { status: 400, description: "The body is not valid JSON." },
  invalid_cursor: { status: 400, description: "The `cursor` is not one this API issued for this listing." },
  unauthorized: { status: 401, description: "No credentials, or credentials that are not valid." },
  invalid_token: { status: 401, description: "The bearer token is malformed, expired, revoked or unknown." },
  forbidden: { status: 403, description: "Authenticated, but not allowed to do this." },
  not_found: { status: 404, description: "No such resource, or it belongs to someone else." },
  method_not_allowed: { status: 405, description: "The path exists but not with this method; see `Allow`." },
  conflict: { status: 409, description: "The request conflicts with the current state." },
  payload_too_large: { status: 413, description: "The body is larger than the route accepts." },
  unsupported_media_type: { status: 415, description: "The Content-Type is not one the route accepts." },
  rate_limited: { status: 429, description: "Too many requests; retry after `Retry-After` seconds." },
  internal_error: { status: 500, description: "An unexpected error; quote `request_id` when reporting it." },
  service_unavailable: { status: 503, description: "A dependency is down; retry later." },
  // Identity (auth, users)
  invalid_credentials: {
    status: 401,
    description: "Wrong email/username or password; the same answer whether or not the account exists.",
  },
  invalid_refresh_token: { status: 401, description: "The refresh token is unknown, expired or revoked." },
  refresh_token_reused: {
    status: 401,
    description: "A refresh token that was already used was presented again; its session has been revoked.",
  },
  refresh_token_superseded: {
    status: 409,
    description:
      "The refresh token was rotated by a concurrent request moments ago; use the tokens that request received.",
  },
  account_disabled: { status: 403, description: "The account has been disabled by staff." },
  email_taken: {
    status: 409,
    description: "An account with this email address (in any letter case) exists.",
  },
  username_taken: { status: 409, description: "The username (in any letter case) is taken." },
  too_many_attempts: {
    status: 429,
    description:
      "Too many failed password attempts against this account from this client (IPv6: its /64), or against the account from anywhere; see `Retry-After`.",
  },
  reauthentication_required: {
    status: 403,
    description:
      "A sensitive action needs a recent sign-in: send `current_password` (or `mfa_code`) in the body, or sign in again. `accepted_proofs` lists what this account can give; a wrong proof is refused the same way.",
  },
  invalid_mfa_code: {
    status: 401,
    description:
      "The authenticator-app code or recovery code is wrong or was already used (400 when confirming a new app, where the caller is signed in).",
  },
  invalid_mfa_token: {
    status: 401,
    description:
      "The mfa_token is unknown, expired (5 minutes), already spent or out of tries (5): sign in again.",
  },
  mfa_already_enabled: { status: 409, description: "An authenticator app is already on for this account." },
  mfa_not_enabled: { status: 409, description: "This account has no authenticator app turned on." },
  totp_not_enrolled: {
    status: 409,
    description: "No authenticator app is waiting to be confirmed: start with POST /auth/mfa/totp/enroll.",
  },
  mfa_not_configured: {
    status: 503,
    description: "Authenticator apps are unavailable: the server has no MFA_ENCRYPTION_KEY.",
  },
  mfa_required: {
    status: 403,
    description:
      "The organization requires members to sign in with a second factor (`require_mfa`): turn on an authenticator app or use a passkey, then sign in again.",
  },
  invitation_limit_reached: {
    status: 429,
    description:
      "The organization has sent INVITATIONS_PER_ORG_PER_DAY invitations in the last 24 hours; see `Retry-After`.",
  },
  redirect_uri_not_allowed: {
    status: 400,
    description:
      "GET /auth/oauth/{provider}/authorize: the redirect_uri is not one of AUTH_REDIRECT_URLS, exactly (scheme, host, port, path and query). It is never redirected to.",
  },
  invalid_state: {
    status: 400,
    description:
      "A provider's callback without a state, or with one that is unknown, expired (10 minutes), already used or another provider's: there is no safe redirect_uri to send the browser back to. Start the sign-in again.",
  },
  provider_unavailable: {
    status: 503,
    description:
      "The identity provider could not be reached or answered something unexpected (its discovery document, keys or token endpoint); retry later.",
  },
  email_change_too_soon: {
    status: 429,
    description: "An address change was asked for less than a minute ago; see `Retry-After`.",
  },
  // Passkeys
  invalid_passkey: {
    status: 401,
    description:
      "A passkey sign-in could not be verified: an unknown, used or expired challenge, a passkey not registered (or not offered), another user handle, origin or RP ID, no user verification, a bad signature, or a signature counter that did not move forward. The same answer for each; ask for new options.",
  },
  passkey_registration_failed: {
    status: 400,
    description:
      "A new passkey's response could not be verified (no open registration challenge of yours, another origin or RP ID, no user verification …); `detail` says which.",
  },
  passkey_already_registered: {
    status: 409,
    description: "This passkey (its credential id) is registered already, to this account or another.",
  },
  passkey_limit_reached: {
    status: 409,
    description: "The account has the most passkeys it may have (20); remove one before adding another.",
  },
  last_sign_in_method: {
    status: 409,
    description:
      "Removing this (a passkey, a linked identity) would leave the account no way to sign in (no password, no other passkey or linked identity); add another first.",
  },
  // Tenancy and integrators (organizations, invitations, API keys)
  insufficient_scope: {
    status: 403,
    description:
      "The API key (or its access token) lacks a scope the route needs; `required_scopes` lists them (RFC 6750).",
  },
  email_not_verified: {
    status: 403,
    description:
      "This needs a verified email address (and, with AUTH_EMAIL_VERIFICATION=required, so does password sign-in); verify yours first.",
  },
  slug_taken: { status: 409, description: "Another organization uses this slug." },
  last_owner: {
    status: 409,
    description:
      "The organization's last owner cannot leave or be demoted; make another member an owner first.",
  },
  personal_organization: {
    status: 409,
    description: "A personal organization cannot be deleted on its own; it goes with its account.",
  },
  already_member: {
    status: 409,
    description: "The address or account is a member of the organization already.",
  },
  invitation_invalid: {
    status: 400,
    description: "The invitation token is unknown, or the invitation was revoked.",
  },
  invitation_used: { status: 400, description: "The invitation was already accepted; it works once." },
  invitation_expired: {
    status: 400,
    description: "The invitation is more than 7 days old; ask for a new one.",
  },
  invitation_email_mismatch: {
    status: 403,
    description: "The invitation was sent to another address than the signed-in account's verified email.",
  },
  invitation_not_pending: {
    status: 409,
    description: "The invitation was accepted, so it cannot be revoked.",
  },
  scope_not_allowed: {
    status: 403,
    description: "Your role may not give a key one of these scopes; `scopes_not_allowed` lists them.",
  },
  rate_limit_above_policy: {
    status: 403,
    description:
      "A key's own rate limit may not exceed the deployment's `api_key` policy unless staff set it.",
  },
  api_key_revoked: { status: 409, description: "The API key is revoked; it cannot be changed or rotated." },
  // Email flows and avatars
  invalid_or_expired: {
    status: 400,
    description:
      "The verification link, reset link, sign-in code or sign-in link is unknown, expired, already used, or (a code) was guessed wrong too often.",
  },
  email_already_verified: { status: 409, description: "The account's email address is already verified." },
  email_resend_too_soon: {
    status: 429,
    description: "A verification email was sent less than a minute ago; see `Retry-After`.",
  },
  invalid_image: {
    status: 400,
    description:
      "The upload is empty, cut short inside its image header, or has an impossible header (no pixels, too many pixels).",
  },
  media_type_mismatch: {
    status: 415,
    description: "The image's content (its magic bytes) is not the type its Content-Type declares.",
  },
  // Files and uploads
  storage_quota_exceeded: {
    status: 409,
    description:
      "The organization's files (uploads in progress included) would exceed FILES_ORG_QUOTA_BYTES; `quota_bytes`, `used_bytes` and `requested_bytes` say by how much.",
  },
  upload_not_received: {
    status: 409,
    description: "Complete was called before the bytes were uploaded: PUT them to the upload URL first.",
  },
  file_content_mismatch: {
    status: 422,
    description:
      "The uploaded bytes are not the declared size or type (`declared_content_type`, `detected_content_type`, `declared_size`); the upload was removed.",
  },
  file_not_ready: {
    status: 409,
    description: "The file is still pending (not completed), so it has nothing to download.",
  },
  upload_already_received: {
    status: 409,
    description: "The upload URL was already used: its bytes are stored. An upload URL writes once.",
  },
  upload_size_mismatch: {
    status: 400,
    description:
      "The upload's body is shorter than the declared size (`declared_size`); send exactly that many bytes.",
  },
  signed_url_invalid: {
    status: 403,
    description:
      "A signed upload or download URL that was altered, is for the other direction, or is not this server's.",
  },
  signed_url_expired: {
    status: 403,
    description: "A signed upload or download URL past its expiry; ask the API for a new one.",
  },
  too_many_avatar_uploads: {
    status: 429,
    description:
      "Five avatar uploads are open already; complete one, or retry after `Retry-After` seconds, when the oldest URL expires.",
  },
  // Notifications
  invalid_ws_ticket: {
    status: 401,
    description:
      "The WebSocket ticket is malformed, unknown, expired (30 s), already used, issued to another account, or its session was revoked.",
  },
  push_not_configured: {
    status: 503,
    description:
      "Push notifications of this kind are not configured on this server: VAPID_PRIVATE_KEY (Web Push) or FCM_SERVICE_ACCOUNT (FCM) is not set.",
  },
  upgrade_required: {
    status: 426,
    description: "GET /api/v1/notifications/ws only accepts WebSocket upgrades (`Upgrade: websocket`).",
  },
  // Background tasks
  unknown_task_type: {
    status: 400,
    description:
      "POST /api/v1/tasks named a task type that is not registered; `task_types` lists the known ones.",
  },
  task_not_editable: {
    status: 409,
    description:
      "Only a task still waiting to start (PENDING) can be changed; `task_status` says what it is now.",
  },
  task_finished: {
    status: 409,
    description: "The task already finished (SUCCESS, FAILURE or REVOKED), so it cannot be cancelled.",
  },
  task_not_finished: {
    status: 409,
    description:
      "The task is still PENDING, STARTED or RETRY: it cannot be deleted (cancel it first) and has no file to download yet.",
  },
  // Admin API
  task_not_failed: {
    status: 409,
    description: "Only FAILURE tasks can be retried; `task_status` says what the task is now.",
  },
  self_modification: {
    status: 403,
    description:
      "Staff cannot disable, remove staff from or delete their own account through the admin API; another staff member must.",
  },
  // Idempotency keys
  idempotency_key_reused: {
    status: 422,
    description:
      "The Idempotency-Key was already used with a different request (method, path, query or body); use a new key.",
  },
  idempotency_request_in_progress: {
    status: 409,
    description:
      "A request with the same Idempotency-Key is still running; retry after `Retry-After` to get its response.",
  },
  // Catalog
  category_name_taken: { status: 409, description: "Another category has this name, in any letter case." },
  category_slug_taken: { status: 409, description: "Another category has this slug." },
  category_in_use: {
    status: 409,
    description: "The category still has products (`product_count`); move or delete them first.",
  },
  // Billing
  insufficient_credits: {
    status: 402,
    description:
      "The organization's credits do not cover the cost (`required`, `balance`, `organization_id`); buy a credit pack or subscribe.",
  },
  plan_required: {
    status: 402,
    description:
      "The feature needs an active subscription (to one of `required_plans`); `current_plan` and `subscription_status` say what the organization has.",
  },
  unknown_price: {
    status: 400,
    description:
      "`price_id` is not a plan or credit pack of GET /api/v1/billing/plans; `price_ids` lists them.",
  },
  subscription_exists: {
    status: 409,
    description: "The organization already has a subscription; change or cancel it in the billing portal.",
  },
  invalid_signature: {
    status: 400,
    description:
      "A Stripe webhook whose Stripe-Signature is missing or does not match the body (wrong secret, altered body, timestamp over 5 minutes old).",
  },
  invalid_event: {
    status: 400,
    description:
      "A correctly signed webhook whose body is not a Stripe event this API can record (an id longer than 254 characters, a `created` beyond the dates JavaScript can hold); `errors` names the field.",
  },
  billing_not_configured: {
    status: 503,
    description: "The server has no Stripe credentials or billing URLs configured; billing is unavailable.",
  },
  payment_provider_unavailable: {
    status: 503,
    description: "Stripe could not be reached or is overloaded; retry after `Retry-After`.",
  },
  payment_provider_error: {
    status: 502,
    description: "Stripe refused a request this API made; quote `request_id` when reporting it.",
  },
  // Outbound webhooks
  url_not_allowed: {
    status: 400,
    description:
      "A webhook URL the SSRF rules refuse (in production and staging: https to a public host, no private/loopback/link-local address, no localhost, port 443 or ≥ 1024; anywhere: no user name or password); `errors` names `/url`.",
  },
  webhook_endpoint_limit: {
    status: 409,
    description: "The organization has the most webhook endpoints it may have (20); delete one first.",
  },
  webhook_endpoint_disabled: {
    status: 409,
    description:
      "The webhook endpoint is disabled (by a person, or after 5 days of failures): PATCH `enabled: true` before sending it a test or a retry.",
  },
  webhooks_not_configured: {
    status: 503,
    description:
      "Webhook endpoints are unavailable: the server has no WEBHOOK_SECRET_ENCRYPTION_KEY to seal their secrets with.",
  },
};
