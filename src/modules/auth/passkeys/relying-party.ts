/**
 * Who the passkeys belong to: the WebAuthn relying party. Resolved once per isolate
 * with the rest of the configuration (src/env.ts), from
 *
 * - `WEBAUTHN_RP_ID`: the domain passkeys are bound to (default: the host of APP_URL);
 * - `WEBAUTHN_RP_NAME`: the name authenticators show (default: APP_NAME);
 * - `WEBAUTHN_ORIGINS`: the origins ceremonies may run on, comma-separated (default:
 *   the origin of APP_URL); an Android app's `android:apk-key-hash:…` origin too.
 *
 * Browsers only use an RP ID equal to the page's host or a registrable suffix of it,
 * so every web origin's host must be the RP ID or end with "." + RP ID: a mismatch
 * would let no passkey work there, and is refused at startup with the fix spelled out.
 * Values left to their defaults are not second-guessed (an APP_URL on an IP address
 * simply has no working passkeys until WEBAUTHN_RP_ID names a domain).
 */

export type RelyingParty = { rpId: string; rpName: string; origins: string[] };

/** A DNS name (letters, digits, hyphens; dot-separated labels), lower-case, that is not an IPv4 address. */
const DOMAIN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;
const IPV4 = /^\d+(?:\.\d+){3}$/;
/** An Android app signed with the certificate whose SHA-256 is this (base64url, no padding). */
const ANDROID_ORIGIN = /^android:apk-key-hash:[A-Za-z0-9_-]{43}$/;

const isLocalhost = (host: string) => host === "localhost" || host.endsWith(".localhost");
const underRpId = (host: string, rpId: string) => host === rpId || host.endsWith(`.${rpId}`);

type Settings = {
  APP_URL: string;
  APP_NAME: string;
  WEBAUTHN_RP_ID?: string;
  WEBAUTHN_RP_NAME?: string;
  WEBAUTHN_ORIGINS?: string[];
};

/** The relying party, or the configuration issues that make passkeys unusable (one line each). */
export function resolveRelyingParty(
  settings: Settings,
): { ok: true; relyingParty: RelyingParty } | { ok: false; issues: string[] } {
  const appUrl = new URL(settings.APP_URL);
  const issues: string[] = [];

  const rpId = settings.WEBAUTHN_RP_ID ?? appUrl.hostname;
  if (settings.WEBAUTHN_RP_ID !== undefined && (!DOMAIN.test(rpId) || IPV4.test(rpId))) {
    issues.push(
      `WEBAUTHN_RP_ID: "${rpId}" is not a domain name; give the bare lower-case domain passkeys belong to, e.g. example.com (no scheme, port or path; not an IP address)`,
    );
  }

  const origins: string[] = [];
  if (settings.WEBAUTHN_ORIGINS?.length === 0) issues.push("WEBAUTHN_ORIGINS: lists no origin");
  for (const entry of settings.WEBAUTHN_ORIGINS ?? [appUrl.origin]) {
    if (ANDROID_ORIGIN.test(entry)) {
      origins.push(entry);
      continue;
    }
    const explicit = settings.WEBAUTHN_ORIGINS !== undefined;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      issues.push(
        `WEBAUTHN_ORIGINS: "${entry}" is neither an origin (https://app.example.com) nor an Android app origin (android:apk-key-hash:…)`,
      );
      continue;
    }
    if (explicit && (url.pathname !== "/" || url.search || url.hash || url.username || url.password)) {
      issues.push(
        `WEBAUTHN_ORIGINS: "${entry}" must be an origin, scheme://host[:port], with no path or query`,
      );
      continue;
    }
    if (explicit && url.protocol !== "https:" && !(url.protocol === "http:" && isLocalhost(url.hostname))) {
      issues.push(
        `WEBAUTHN_ORIGINS: "${entry}": browsers allow passkeys on https origins, and on http only for localhost`,
      );
      continue;
    }
    if (!underRpId(url.hostname, rpId)) {
      const source = settings.WEBAUTHN_RP_ID === undefined ? " (the host of APP_URL)" : "";
      issues.push(
        `WEBAUTHN_ORIGINS: the host of "${url.origin}" is not the RP ID "${rpId}"${source} nor a subdomain of it; set WEBAUTHN_RP_ID to a domain every origin shares (the RP ID must be a registrable suffix of each origin's host), e.g. ${suggestedRpId(url.hostname, rpId)}`,
      );
      continue;
    }
    origins.push(url.origin);
  }

  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    relyingParty: {
      rpId,
      rpName: settings.WEBAUTHN_RP_NAME ?? settings.APP_NAME,
      origins: [...new Set(origins)],
    },
  };
}

/** The longest dot-suffix two hosts share ("app.example.com" and "api.example.com" → "example.com"). */
function suggestedRpId(a: string, b: string): string {
  const left = a.split(".").reverse();
  const right = b.split(".").reverse();
  const shared: string[] = [];
  for (let i = 0; i < Math.min(left.length, right.length) && left[i] === right[i]; i++)
    shared.unshift(left[i] as string);
  return shared.length >= 2 ? shared.join(".") : "a domain both hosts end with";
}
