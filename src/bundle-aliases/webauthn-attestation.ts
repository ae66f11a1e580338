/**
 * Stands in, in the Worker bundle (wrangler.toml `alias`), for the parts of @simplewebauthn/server
 * that verify attestation certificates: the `fido-u2f`, `android-safetynet`, `android-key`, `tpm`
 * and `apple` format verifiers, the X.509 helpers of `packed` full attestation (certificate info,
 * chain and revocation checks, the FIDO AAGUID extension), the FIDO Metadata Service and the
 * built-in root certificates. With them go asn1js and the @peculiar/asn1-* schemas: about 50 KiB
 * of the gzipped bundle (bench/README.md, issue 22).
 *
 * Why none of it is reachable: registration asks for attestation "none"
 * (passkey-registration.service.ts), and the WebAuthn client algorithm (Level 2, §5.1.3 step 20)
 * then replaces any attestation with fmt "none" unless it is `packed` self-attestation (no
 * `x5c`), which is verified with the credential's own key and needs no certificate.
 * `checkAttestationObject` (src/modules/auth/passkeys/webauthn-input.ts) refuses every other
 * format with a 400 naming the field before the library runs, in tests and in production alike;
 * these functions throw only if that check is ever bypassed. Documented in docs/passkeys.md.
 *
 * The EC2 signature unwrapper (`webauthn-ec2-signature.ts`) is not a refusal: it replaces the
 * one ASN.1 parse every passkey sign-in needs.
 */

const notBundled = (what: string) => (): never => {
  throw new Error(
    `${what} is not bundled (wrangler.toml alias, src/bundle-aliases/webauthn-attestation.ts): ` +
      'this Worker accepts attestation "none" and packed self-attestation only.',
  );
};

// The attestation formats that always carry a certificate chain (registration/verifications/).
export const verifyAttestationFIDOU2F = notBundled('Attestation format "fido-u2f"');
export const verifyAttestationAndroidSafetyNet = notBundled('Attestation format "android-safetynet"');
export const verifyAttestationAndroidKey = notBundled('Attestation format "android-key"');
export const verifyAttestationTPM = notBundled('Attestation format "tpm"');
export const verifyAttestationApple = notBundled('Attestation format "apple"');

// X.509 helpers, reached by `packed` full attestation (an `x5c` chain) and the helpers index.
export const getCertificateInfo = notBundled("X.509 certificate parsing");
export const validateCertificatePath = notBundled("X.509 certificate path validation");
export const isCertRevoked = notBundled("X.509 revocation checking");
export const validateExtFIDOGenCEAAGUID = notBundled("The FIDO AAGUID certificate extension");
export const convertX509PublicKeyToCOSE = notBundled("X.509 public key conversion");
export const verifyAttestationWithMetadata = notBundled("FIDO metadata verification");

/** The FIDO Metadata Service (never initialised here: attestation is not vetted). */
export const MetadataService = {
  initialize: notBundled("The FIDO Metadata Service"),
  getStatement: notBundled("The FIDO Metadata Service"),
};

/**
 * verifyRegistrationResponse asks for the root certificates of the response's format on every
 * registration: none, since no format that uses them is accepted.
 */
export const SettingsService = {
  getRootCertificates: (): string[] => [],
  setRootCertificates: notBundled("Attestation root certificates"),
};
