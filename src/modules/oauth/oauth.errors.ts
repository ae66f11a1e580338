/**
 * RFC 6749 §5.2 error responses. The token endpoint is an OAuth endpoint, so its
 * errors are the JSON bodies OAuth client libraries expect —
 * `{ "error": "invalid_client", "error_description": "…" }` — not the
 * problem+json every other route answers. (Oversized bodies and rate limits keep
 * the API's usual 413 / 429 problems: RFC 6749 has no codes for them.)
 */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_scope"
  | "unsupported_grant_type";

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.name = "OAuthError";
  }

  /** invalid_client is 401 (with a challenge, RFC 6749 §5.2); the others 400. */
  get status(): 400 | 401 {
    return this.error === "invalid_client" ? 401 : 400;
  }

  get body(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }

  get headers(): Record<string, string> {
    return {
      "Cache-Control": "no-store",
      Pragma: "no-cache",
      ...(this.error === "invalid_client"
        ? { "WWW-Authenticate": 'Basic realm="oauth", charset="UTF-8"' }
        : {}),
    };
  }
}
