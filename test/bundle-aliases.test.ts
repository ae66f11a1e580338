/**
 * The stand-ins wrangler.toml's `alias` puts in the deployed bundle (src/bundle-aliases). Tests run
 * without the aliases (the real packages), so this checks the stand-ins themselves: the zod locale
 * module still carries zod's English messages; the hand-written EC2 signature unwrapper agrees with
 * the library's on every signature WebCrypto makes; the refusals refuse loudly, naming the alias;
 * and the guards of `npm run build:check` (scripts/lib/bundle-guards.ts) hold on the real sources:
 * src/ calls no Stripe resource the bundle leaves out.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
// The library's own unwrapper, by path: its package exports do not reach it (the alias replaces it by this path's specifier).
import { unwrapEC2Signature as libraryUnwrap } from "../node_modules/@simplewebauthn/server/esm/helpers/iso/isoCrypto/unwrapEC2Signature.js";
import stripeCoreSource from "../node_modules/stripe/esm/stripe.core.js?raw";
import {
  misusedRelativeAliases,
  STRIPE_STAND_IN,
  stripeCallsLeftOut,
  stripeResourcesLeftOut,
} from "../scripts/lib/bundle-guards";
import PostalMimeNotBundled from "../src/bundle-aliases/postal-mime";
import * as stripeStandIns from "../src/bundle-aliases/stripe-resources";
import * as attestation from "../src/bundle-aliases/webauthn-attestation";
import { unwrapEC2Signature } from "../src/bundle-aliases/webauthn-ec2-signature";
import * as bundledLocales from "../src/bundle-aliases/zod-locales";
import type { RawWranglerConfig } from "../src/config-check";
import { derSignature } from "./support/webauthn";

const aliases =
  (
    (env as unknown as { TEST_WRANGLER_CONFIG: RawWranglerConfig }).TEST_WRANGLER_CONFIG as {
      alias?: Record<string, string>;
    }
  ).alias ?? {};

/** Every source file of the Worker, as build:check reads them. */
const sources = import.meta.glob<string>("../src/**/*.ts", { query: "?raw", import: "default", eager: true });

describe("zod and postal-mime", () => {
  it("keeps zod's English locale, the one zod configures itself with", () => {
    expect(Object.keys(bundledLocales)).toEqual(["en"]);
    expect(bundledLocales.en).toBe(z.locales.en);
    const issue = z.string().min(3).safeParse("ab").error?.issues[0];
    const localeError = bundledLocales.en().localeError;
    expect(typeof localeError === "function" ? localeError(issue as never) : undefined).toBe(issue?.message);
  });

  it("postal-mime's stand-in throws, naming the alias to remove, instead of parsing nothing", () => {
    expect(() => PostalMimeNotBundled.parse()).toThrow(/not bundled.*wrangler\.toml alias/);
  });
});

describe("WebAuthn: the EC2 signature unwrapper", () => {
  const curves = [
    { crv: 1, namedCurve: "P-256", hash: "SHA-256", size: 32 },
    { crv: 2, namedCurve: "P-384", hash: "SHA-384", size: 48 },
    { crv: 3, namedCurve: "P-521", hash: "SHA-512", size: 66 },
  ] as const;

  it.each(curves)(
    "answers what the library answers for WebCrypto's $namedCurve signatures",
    async (curve) => {
      const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve.namedCurve }, false, [
        "sign",
        "verify",
      ])) as CryptoKeyPair;
      for (let i = 0; i < 40; i += 1) {
        const data = crypto.getRandomValues(new Uint8Array(64));
        const raw = new Uint8Array(
          (await crypto.subtle.sign(
            { name: "ECDSA", hash: curve.hash },
            keys.privateKey,
            data,
          )) as ArrayBuffer,
        );
        const der = derEncode(raw, curve.size);
        const ours = unwrapEC2Signature(der, curve.crv);
        expect(ours).toEqual(new Uint8Array(libraryUnwrap(der, curve.crv)));
        expect(ours).toEqual(raw);
      }
    },
  );

  it("agrees with the library on r and s of every length, leading zeros and sign bytes included", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        (r, s) => {
          const der = derSequence(derIntegerOf(r), derIntegerOf(s));
          expect(unwrapEC2Signature(der, 1)).toEqual(new Uint8Array(libraryUnwrap(der, 1)));
        },
      ),
    );
  });

  it("refuses what is not SEQUENCE { INTEGER, INTEGER }, and unknown curves", () => {
    const good = derSignature(new Uint8Array(64).fill(7));
    expect(() => unwrapEC2Signature(good, 9)).toThrow(/crv/);
    expect(() => unwrapEC2Signature(good.slice(0, -1), 1)).toThrow();
    expect(() => unwrapEC2Signature(new Uint8Array([...good, 0]), 1)).toThrow(/Trailing/);
    expect(() => unwrapEC2Signature(new Uint8Array([0x31, ...good.slice(1)]), 1)).toThrow(/tag/);
    expect(() => unwrapEC2Signature(new Uint8Array(0), 1)).toThrow();
    // An integer longer than the curve's size (plus its sign byte) is refused, as the library refuses it.
    const long = derSequence(derIntegerOf(new Uint8Array(34).fill(1)), derIntegerOf(new Uint8Array([1])));
    expect(() => unwrapEC2Signature(long, 1)).toThrow(/length/);
    expect(() => libraryUnwrap(long, 1)).toThrow(/length/);
  });
});

describe("WebAuthn: the attestation formats left out", () => {
  it("each refuses, naming the format and the stand-in", () => {
    for (const [refuse, fmt] of [
      [attestation.verifyAttestationTPM, "tpm"],
      [attestation.verifyAttestationAndroidKey, "android-key"],
      [attestation.verifyAttestationAndroidSafetyNet, "android-safetynet"],
      [attestation.verifyAttestationApple, "apple"],
      [attestation.verifyAttestationFIDOU2F, "fido-u2f"],
    ] as const) {
      expect(() => refuse()).toThrow(`Attestation format "${fmt}" is not bundled`);
    }
    expect(() => attestation.getCertificateInfo()).toThrow(/webauthn-attestation\.ts/);
    expect(() => attestation.MetadataService.getStatement()).toThrow(/not bundled/);
  });

  it("has no root certificates for any format (asked on every registration)", () => {
    expect(attestation.SettingsService.getRootCertificates()).toEqual([]);
  });
});

describe("Stripe: the resources left out", () => {
  it("an instance refuses every method, naming the resource and the alias", () => {
    const invoices = new stripeStandIns.InvoiceResource() as Record<string, unknown>;
    expect(() => invoices.list).toThrow(
      "stripe.invoices.list is not bundled (wrangler.toml alias, src/bundle-aliases/stripe-resources.ts)",
    );
    // What `await`, inspectors and stripe.core.js's constructor touch must not throw.
    expect(invoices.then).toBeUndefined();
    expect((invoices as Record<symbol, unknown>)[Symbol.toStringTag]).toBeUndefined();
    expect(() => new stripeStandIns.StripeEventNotificationHandler()).toThrow(/v2 event notification/);
  });

  it("exports a stand-in for every aliased import, and none for what src/ calls", () => {
    const leftOut = stripeResourcesLeftOut(aliases, stripeCoreSource);
    expect(leftOut.get("invoices")).toBe("./resources/Invoices.js");
    expect(leftOut.get("v2")).toBe("./resources/V2/index.js");
    for (const kept of ["customers", "subscriptions", "checkout", "billingPortal"]) {
      expect(leftOut.has(kept)).toBe(false);
    }
    expect(leftOut.size).toBeGreaterThan(60);
  });

  it("src/ calls no Stripe resource the bundle leaves out (what build:check fails on)", () => {
    const files = Object.fromEntries(Object.entries(sources).map(([path, text]) => [path.slice(3), text]));
    expect(Object.keys(files).length).toBeGreaterThan(100);
    expect(stripeCallsLeftOut(files, stripeResourcesLeftOut(aliases, stripeCoreSource))).toEqual([]);
  });

  it("the guard names a newcomer's stripe.invoices call, and the alias line to remove", () => {
    const leftOut = stripeResourcesLeftOut(aliases, stripeCoreSource);
    const found = stripeCallsLeftOut(
      {
        "src/modules/billing/x.ts":
          "// stripe.payouts in a comment is fine\nconst list = await stripe.invoices.list();\nthis.stripe?.refunds.create();\nstripe.customers.create();",
      },
      leftOut,
    );
    expect(found).toEqual([
      `src/modules/billing/x.ts:2 calls stripe.invoices, which the bundle leaves out: remove the line "./resources/Invoices.js" = "${STRIPE_STAND_IN}" from wrangler.toml's [alias]`,
      expect.stringContaining("src/modules/billing/x.ts:3 calls stripe.refunds"),
    ]);
  });
});

describe("relative aliases", () => {
  it("each is owned by one package, and another package importing its specifier fails the build", () => {
    const meta = {
      inputs: {
        "node_modules/stripe/esm/stripe.core.js": { imports: [{ path: "x", original: "./resources.js" }] },
        "node_modules/other/index.js": { imports: [{ path: "y", original: "./resources.js" }] },
        "node_modules/zod/v4/classic/external.js": {
          imports: [{ path: "z", original: "../locales/index.js" }],
        },
      },
    };
    expect(misusedRelativeAliases(aliases, meta)).toEqual([
      "./resources.js imported by node_modules/other/index.js",
    ]);
    expect(misusedRelativeAliases({ "./x.js": "./src/bundle-aliases/unknown.ts" }, { inputs: {} })).toEqual([
      "./x.js: its stand-in ./src/bundle-aliases/unknown.ts has no owning package in scripts/lib/bundle-guards.ts",
    ]);
  });
});

/** A DER INTEGER of these bytes as an unsigned number (minimal: leading zeros dropped, a sign byte added). */
function derIntegerOf(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  let body = bytes.slice(start);
  if ((body[0] ?? 0) & 0x80) body = new Uint8Array([0, ...body]);
  return new Uint8Array([0x02, body.length, ...body]);
}

/** SEQUENCE { a, b }, with DER's long form once the content passes 127 bytes (P-521). */
function derSequence(a: Uint8Array, b: Uint8Array): Uint8Array {
  const length = a.length + b.length;
  const header = length < 0x80 ? [0x30, length] : [0x30, 0x81, length];
  return new Uint8Array([...header, ...a, ...b]);
}

function derEncode(raw: Uint8Array, size: number): Uint8Array {
  return derSequence(derIntegerOf(raw.slice(0, size)), derIntegerOf(raw.slice(size)));
}
