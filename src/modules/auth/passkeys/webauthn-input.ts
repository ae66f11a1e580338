/**
 * The structural checks of a WebAuthn response, before any of it is trusted: each
 * base64url field must decode to what it claims to be (clientDataJSON to a JSON object
 * with a type, a challenge and an origin; authenticator data to at least its 37 fixed
 * bytes; an attestation object to CBOR with authData). A field that does not is the
 * client's mistake, answered 400 naming it, never a verification failure and never a
 * 500 from deep inside the verifier. What is well-formed but wrong (another origin, a
 * bad signature) is the verifier's to refuse.
 */
import {
  decodeAttestationObject,
  decodeClientDataJSON,
  isoBase64URL,
  parseAuthenticatorData,
} from "@simplewebauthn/server/helpers";
import { problems } from "../../../lib/problem";

export type ClientData = { type: string; challenge: string; origin: string };

const malformed = (pointer: string, detail: string) =>
  problems.validation([{ pointer, detail }], "The WebAuthn response is malformed.");

export function readClientData(encoded: string, pointer: string): ClientData {
  let data: unknown;
  try {
    data = decodeClientDataJSON(encoded);
  } catch {
    throw malformed(pointer, "Not base64url-encoded JSON.");
  }
  const { type, challenge, origin } = (data ?? {}) as Record<string, unknown>;
  if (typeof type !== "string" || typeof challenge !== "string" || typeof origin !== "string") {
    throw malformed(pointer, "Must be a JSON object with string `type`, `challenge` and `origin`.");
  }
  return { type, challenge, origin };
}

export function checkAuthenticatorData(encoded: string, pointer: string): void {
  try {
    parseAuthenticatorData(isoBase64URL.toBuffer(encoded));
  } catch {
    throw malformed(
      pointer,
      "Not authenticator data (RP ID hash, flags, counter, and what the flags announce).",
    );
  }
}

/**
 * What a WebAuthn client sends when the options ask for attestation "none" (ours do): fmt "none",
 * or `packed` self-attestation (no `x5c` certificate chain), which the client keeps because it
 * identifies nothing (WebAuthn Level 2, §5.1.3 step 20). Every other format carries certificates
 * this server neither asks for nor bundles the code to check (src/bundle-aliases/webauthn-attestation.ts).
 */
function acceptedAttestation(fmt: string, attStmt: unknown): boolean {
  if (fmt === "none") return true;
  return fmt === "packed" && attStmt instanceof Map && !attStmt.has("x5c");
}

export function checkAttestationObject(encoded: string, pointer: string): void {
  let fmt: string;
  let attStmt: unknown;
  try {
    const attestation = decodeAttestationObject(isoBase64URL.toBuffer(encoded));
    const format = attestation.get("fmt");
    if (typeof format !== "string") throw new Error("no fmt");
    fmt = format;
    attStmt = attestation.get("attStmt");
    const authData: unknown = attestation.get("authData");
    if (!(authData instanceof Uint8Array)) throw new Error("no authData");
    const parsed = parseAuthenticatorData(authData);
    if (!parsed.credentialID || !parsed.credentialPublicKey) throw new Error("no attested credential");
  } catch {
    throw malformed(
      pointer,
      "Not an attestation object: CBOR with `fmt`, `attStmt` and `authData` carrying the new credential.",
    );
  }
  if (!acceptedAttestation(fmt, attStmt)) {
    throw malformed(
      pointer,
      `Attestation format "${fmt.slice(0, 40)}"${fmt === "packed" ? " with a certificate chain (x5c)" : ""} is not accepted: ` +
        'the options ask for attestation "none"; send fmt "none" or packed self-attestation.',
    );
  }
}
