/**
 * A software authenticator for the passkey tests: what a browser plus a platform
 * authenticator would hand the API, built byte for byte from a P-256 key this test
 * holds (crypto.subtle), so every check of the server runs on real WebAuthn data.
 *
 * - `register(options)` answers PublicKeyCredentialCreationOptionsJSON with a
 *   RegistrationResponseJSON: clientDataJSON (`webauthn.create`, the challenge, the
 *   origin) and an attestationObject (`fmt: "none"`) whose authData carries the RP ID
 *   hash, the flags, the counter and the attested credential (id + COSE public key).
 * - `assert(options)` answers PublicKeyCredentialRequestOptionsJSON with an
 *   AuthenticationResponseJSON: authenticatorData, and an ECDSA signature over
 *   authData ‖ SHA-256(clientDataJSON), DER-encoded as WebAuthn requires.
 *
 * `register` sends attestation "none" unless told otherwise: `packed` self-attestation (what
 * browsers keep under attestation "none"), or any other format and statement, to be refused.
 *
 * Each call takes `tweaks` to forge what a test refuses: another origin, another RP ID
 * hash, no UV flag, a counter that went backwards, another key's signature, another
 * user handle. CBOR and COSE come from @simplewebauthn/server's helpers, never by hand.
 */

import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { cose, isoBase64URL, isoCBOR, isoUint8Array } from "@simplewebauthn/server/helpers";

/** The origin of APP_URL in the tests (http://localhost:8787): the default WEBAUTHN_ORIGINS. */
export const TEST_ORIGIN = "http://localhost:8787";
/** Its host: the default WEBAUTHN_RP_ID. */
export const TEST_RP_ID = "localhost";

type CBOR = Parameters<typeof isoCBOR.encode>[0];

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;
const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;

type ClientTweaks = {
  /** The origin the "browser" reports (default TEST_ORIGIN). */
  origin?: string;
  /** The RP ID whose hash goes into authData (default the options' RP ID). */
  rpId?: string;
  /** The challenge the "browser" signs (default the options' challenge). */
  challenge?: string;
  /** `webauthn.create` / `webauthn.get` unless a test says otherwise. */
  type?: string;
  /** User verified (UV flag); true by default, as with a fingerprint or PIN. */
  userVerified?: boolean;
};

export type RegistrationTweaks = ClientTweaks & {
  /**
   * The attestation statement: "none" (default), "packed-self" (signed with the credential's own
   * key, alg ES256, no certificate), or a format and statement as an authenticator would send it.
   */
  attestation?: "none" | "packed-self" | { fmt: string; attStmt: Map<string, CBOR> };
};

export type AssertionTweaks = ClientTweaks & {
  /** The signature counter to report instead of the next one. */
  counter?: number;
  /** Sign with this private key instead of the credential's own. */
  signWith?: CryptoKey;
  /** The user handle to report (null: none); the one given at registration by default. */
  userHandle?: string | null;
  /** Another credential id to claim in `id`/`rawId`. */
  credentialId?: string;
};

export type AuthenticatorOptions = {
  /** Backup eligible + backed up (a synced passkey, amr `swk`); a single-device key otherwise (`hwk`). */
  synced?: boolean;
  /** The signature counter starts here; 0 means "this authenticator keeps no counter" while it stays 0. */
  counter?: number;
  /** Bytes of the credential id (authenticators use 16 to 64 and more). */
  idLength?: number;
};

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** A DER INTEGER of an unsigned big-endian number: leading zeros dropped, one 0x00 when the top bit is set. */
function derInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  let body: Uint8Array = bytes.slice(start);
  if ((body[0] ?? 0) & 0x80) body = isoUint8Array.concat([new Uint8Array([0]), body]);
  return isoUint8Array.concat([new Uint8Array([0x02, body.length]), body]);
}

/** WebCrypto answers ECDSA signatures as r ‖ s (IEEE P1363); WebAuthn wants ASN.1 DER SEQUENCE { r, s }. */
export function derSignature(raw: Uint8Array): Uint8Array {
  const r = derInteger(raw.slice(0, 32));
  const s = derInteger(raw.slice(32));
  return isoUint8Array.concat([new Uint8Array([0x30, r.length + s.length]), r, s]);
}

export async function newSigningKey(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"])) as CryptoKeyPair;
}

export class SoftAuthenticator {
  /** The user handle the server gave at registration (base64url): asserted back on sign-in. */
  userHandle: string | undefined;

  private constructor(
    readonly keys: CryptoKeyPair,
    readonly credentialId: Uint8Array,
    public counter: number,
    readonly synced: boolean,
  ) {}

  static async create(options: AuthenticatorOptions = {}): Promise<SoftAuthenticator> {
    const id = crypto.getRandomValues(new Uint8Array(options.idLength ?? 32));
    return new SoftAuthenticator(await newSigningKey(), id, options.counter ?? 0, options.synced ?? false);
  }

  /** The credential id as the API and the browser spell it (base64url). */
  get id(): string {
    return isoBase64URL.fromBuffer(this.credentialId);
  }

  private flags(userVerified: boolean, attested: boolean): number {
    let flags = FLAG.UP;
    if (userVerified) flags |= FLAG.UV;
    if (this.synced) flags |= FLAG.BE | FLAG.BS;
    if (attested) flags |= FLAG.AT;
    return flags;
  }

  /** The credential's public key as COSE (kty EC2, alg ES256, crv P-256, x, y). */
  private async cosePublicKey(): Promise<Uint8Array> {
    const raw = new Uint8Array((await crypto.subtle.exportKey("raw", this.keys.publicKey)) as ArrayBuffer);
    const key = new Map<number, number | Uint8Array>([
      [cose.COSEKEYS.kty, cose.COSEKTY.EC2],
      [cose.COSEKEYS.alg, cose.COSEALG.ES256],
      [cose.COSEKEYS.crv, cose.COSECRV.P256],
      [cose.COSEKEYS.x, raw.slice(1, 33)],
      [cose.COSEKEYS.y, raw.slice(33, 65)],
    ]);
    return isoCBOR.encode(key);
  }

  private async authData(input: {
    rpId: string;
    userVerified: boolean;
    counter: number;
    attested: boolean;
  }): Promise<Uint8Array> {
    const counter = new Uint8Array(4);
    new DataView(counter.buffer).setUint32(0, input.counter, false);
    const parts = [
      await sha256(utf8(input.rpId)),
      new Uint8Array([this.flags(input.userVerified, input.attested)]),
      counter,
    ];
    if (input.attested) {
      const length = new Uint8Array(2);
      new DataView(length.buffer).setUint16(0, this.credentialId.length, false);
      // AAGUID all zeros: what authenticators send with attestation "none".
      parts.push(new Uint8Array(16), length, this.credentialId, await this.cosePublicKey());
    }
    return isoUint8Array.concat(parts);
  }

  private static clientData(type: string, challenge: string, origin: string): Uint8Array {
    return utf8(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** ECDSA P-256 over `data` with `key`, DER-encoded as WebAuthn signatures are. */
  private static async sign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
    const raw = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, data);
    return derSignature(new Uint8Array(raw as ArrayBuffer));
  }

  private async attestation(
    kind: NonNullable<RegistrationTweaks["attestation"]>,
    authData: Uint8Array,
    clientDataJSON: Uint8Array,
  ): Promise<{ fmt: string; attStmt: Map<string, CBOR> }> {
    if (kind === "none") return { fmt: "none", attStmt: new Map() };
    if (kind !== "packed-self") return kind;
    // Self-attestation: the new credential's key signs authData ‖ SHA-256(clientDataJSON).
    const signed = isoUint8Array.concat([authData, await sha256(clientDataJSON)]);
    const sig = await SoftAuthenticator.sign(this.keys.privateKey, signed);
    return {
      fmt: "packed",
      attStmt: new Map<string, CBOR>([
        ["alg", cose.COSEALG.ES256],
        ["sig", sig],
      ]),
    };
  }

  /** navigator.credentials.create() with these options, as `credential.toJSON()` would send it. */
  async register(
    options: PublicKeyCredentialCreationOptionsJSON,
    tweaks: RegistrationTweaks = {},
  ): Promise<RegistrationResponseJSON> {
    this.userHandle = options.user.id;
    const clientDataJSON = SoftAuthenticator.clientData(
      tweaks.type ?? "webauthn.create",
      tweaks.challenge ?? options.challenge,
      tweaks.origin ?? TEST_ORIGIN,
    );
    const authData = await this.authData({
      rpId: tweaks.rpId ?? options.rp.id ?? TEST_RP_ID,
      userVerified: tweaks.userVerified ?? true,
      counter: this.counter,
      attested: true,
    });
    const { fmt, attStmt } = await this.attestation(tweaks.attestation ?? "none", authData, clientDataJSON);
    const attestationObject = isoCBOR.encode(
      new Map<string, CBOR>([
        ["fmt", fmt],
        ["attStmt", attStmt],
        ["authData", authData],
      ]),
    );
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", this.keys.publicKey)) as ArrayBuffer);
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        attestationObject: isoBase64URL.fromBuffer(attestationObject),
        authenticatorData: isoBase64URL.fromBuffer(authData),
        transports: ["internal", "hybrid"],
        publicKeyAlgorithm: cose.COSEALG.ES256,
        publicKey: isoBase64URL.fromBuffer(spki),
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }

  /**
   * navigator.credentials.get() with these options, as `credential.toJSON()` would send it.
   * Each assertion counts one more use (when the authenticator keeps a counter at all).
   */
  async assert(
    options: PublicKeyCredentialRequestOptionsJSON,
    tweaks: AssertionTweaks = {},
  ): Promise<AuthenticationResponseJSON> {
    if (this.counter > 0 && tweaks.counter === undefined) this.counter += 1;
    const clientDataJSON = SoftAuthenticator.clientData(
      tweaks.type ?? "webauthn.get",
      tweaks.challenge ?? options.challenge,
      tweaks.origin ?? TEST_ORIGIN,
    );
    const authData = await this.authData({
      rpId: tweaks.rpId ?? options.rpId ?? TEST_RP_ID,
      userVerified: tweaks.userVerified ?? true,
      counter: tweaks.counter ?? this.counter,
      attested: false,
    });
    const signed = isoUint8Array.concat([authData, await sha256(clientDataJSON)]);
    const raw = new Uint8Array(
      await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        tweaks.signWith ?? this.keys.privateKey,
        signed,
      ),
    );
    const userHandle = tweaks.userHandle === undefined ? this.userHandle : tweaks.userHandle;
    const id = tweaks.credentialId ?? this.id;
    return {
      id,
      rawId: id,
      type: "public-key",
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        authenticatorData: isoBase64URL.fromBuffer(authData),
        signature: isoBase64URL.fromBuffer(derSignature(raw)),
        ...(userHandle === null || userHandle === undefined ? {} : { userHandle }),
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }
}
