/**
 * Stands in, in the Worker bundle (wrangler.toml `alias`), for @simplewebauthn/server's
 * `helpers/iso/isoCrypto/unwrapEC2Signature.js`, which parses the DER signature of every ES256
 * assertion with @peculiar/asn1-schema (and so asn1js, ~15 KiB gzip on its own). An ECDSA
 * signature is one fixed shape, SEQUENCE { r INTEGER, s INTEGER }, so it is read here by hand and
 * normalised exactly as the original does (test/bundle-aliases.test.ts checks both agree on every
 * signature WebCrypto makes, and on malformed ones refuse).
 *
 * WebAuthn wraps EC2 signatures in DER; WebCrypto wants r ‖ s, each padded to the curve's size.
 */

/** COSE curve ids (RFC 9053) → the byte length of r and s. */
const COMPONENT_LENGTH: Record<number, number> = { 1: 32, 2: 48, 3: 66 };

class DerReader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.offset === this.bytes.length;
  }

  /** One tag-length-value; DER lengths are short form or long form (0x81/0x82) only. */
  read(tag: number): Uint8Array {
    if (this.bytes[this.offset] !== tag) throw new Error(`Expected ASN.1 tag ${tag} in EC2 signature`);
    let length = this.bytes[this.offset + 1] ?? 0;
    let start = this.offset + 2;
    if (length & 0x80) {
      const octets = length & 0x7f;
      if (octets < 1 || octets > 2) throw new Error("Unsupported ASN.1 length in EC2 signature");
      length = 0;
      for (let i = 0; i < octets; i += 1) length = (length << 8) | (this.bytes[start + i] ?? 0);
      start += octets;
    }
    const end = start + length;
    if (end > this.bytes.length) throw new Error("Truncated EC2 signature");
    this.offset = end;
    return this.bytes.subarray(start, end);
  }
}

/** The original's toNormalizedBytes: pad short integers, drop DER's sign byte, refuse anything else. */
function normalized(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length < length) {
    const padded = new Uint8Array(length);
    padded.set(bytes, length - bytes.length);
    return padded;
  }
  if (bytes.length === length) return bytes;
  if (bytes.length === length + 1 && bytes[0] === 0 && ((bytes[1] ?? 0) & 0x80) === 0x80)
    return bytes.subarray(1);
  throw new Error(`Invalid signature component length ${bytes.length}, expected ${length}`);
}

export function unwrapEC2Signature(signature: Uint8Array, crv: number): Uint8Array {
  const length = COMPONENT_LENGTH[crv];
  if (length === undefined) throw new Error(`Unexpected COSE crv value of ${crv} (EC2)`);
  const outer = new DerReader(signature);
  const sequence = new DerReader(outer.read(0x30));
  const r = sequence.read(0x02);
  const s = sequence.read(0x02);
  if (!sequence.done || !outer.done) throw new Error("Trailing bytes in EC2 signature");
  const result = new Uint8Array(length * 2);
  result.set(normalized(r, length), 0);
  result.set(normalized(s, length), length);
  return result;
}
