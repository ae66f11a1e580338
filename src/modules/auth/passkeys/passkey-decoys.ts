/**
 * What `POST /passkeys/login/options { email }` offers for an address that has no
 * passkey to offer (no account, or an account without passkeys): credential ids that
 * look like real ones and stay the same for that address, so the answer says nothing
 * about whether the address has an account. Random ids would change on every call and
 * give it away; an empty list would too, beside the real lists of accounts with passkeys.
 *
 * The ids are HKDF output keyed by JWT_PRIVATE_KEYS, the deployment's one secret, with
 * the RP ID and the address as context: stable across isolates and locations,
 * unguessable without the secret. Rotating the signing keys changes them
 * (docs/passkeys.md says what that reveals).
 */
import type { ServiceContext } from "../../../lib/context";
import { base64urlEncode, randomBytes } from "../../../lib/crypto";

export type OfferedCredential = { id: string; transports: string[] };

/** Credential id lengths real authenticators use (16: some Android, 20: Apple, 32: Windows Hello, 64: security keys). */
const ID_LENGTHS = [16, 20, 32, 32, 64] as const;
const MAX_DECOYS = 2;
const DECOY_TRANSPORTS = ["hybrid", "internal"];
const SALT = new TextEncoder().encode("edge-api-platform/passkeys/decoy-credential-ids/v1");

const masters = new Map<string, Promise<CryptoKey>>();
/** Without JWT_PRIVATE_KEYS (a development setup that signs nothing) decoys are at least stable per isolate. */
let isolateSecret: string | undefined;

function masterKey(ctx: ServiceContext): Promise<CryptoKey> {
  if (!ctx.config.JWT_PRIVATE_KEYS && !isolateSecret) isolateSecret = base64urlEncode(randomBytes(32));
  const secret = ctx.config.JWT_PRIVATE_KEYS ?? (isolateSecret as string);
  let key = masters.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveBits"]);
    masters.set(secret, key);
  }
  return key;
}

/** One or two decoy credentials for `email` (lower-cased), the same on every call. */
export async function decoyCredentials(ctx: ServiceContext, email: string): Promise<OfferedCredential[]> {
  const bytes = new Uint8Array(
    await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: SALT,
        info: new TextEncoder().encode(`${ctx.config.WEBAUTHN_RP_ID}\n${email}`),
      },
      await masterKey(ctx),
      (1 + MAX_DECOYS + MAX_DECOYS * 64) * 8,
    ),
  );
  const count = 1 + ((bytes[0] ?? 0) % MAX_DECOYS);
  const decoys: OfferedCredential[] = [];
  let offset = 1 + MAX_DECOYS;
  for (let i = 0; i < count; i++) {
    const length = ID_LENGTHS[(bytes[1 + i] ?? 0) % ID_LENGTHS.length] ?? 32;
    decoys.push({ id: base64urlEncode(bytes.slice(offset, offset + length)), transports: DECOY_TRANSPORTS });
    offset += length;
  }
  return decoys;
}
