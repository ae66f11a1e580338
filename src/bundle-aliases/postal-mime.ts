/**
 * Stands in for `postal-mime` in the Worker bundle (wrangler.toml `alias`).
 *
 * The Resend SDK imports postal-mime (a MIME parser, ~70 KiB minified, ~21 KiB gzip) for one
 * method only: `resend.emails.receiving.forward()` of an inbound email without `passthrough`.
 * This project sends through Resend (`src/email/providers/resend.ts` calls `emails.send` and
 * nothing else) and never receives email through it, so the parser is dead weight.
 *
 * If a later change does call that method, it fails loudly here instead of silently
 * misbehaving: remove the alias from wrangler.toml then.
 */
const PostalMimeNotBundled = {
  /** What resend calls (`PostalMime.parse(raw, options)`); never reached by this Worker. */
  parse(): never {
    throw new Error(
      "postal-mime is not bundled (wrangler.toml alias, src/bundle-aliases/postal-mime.ts): " +
        "this Worker does not parse inbound email. Remove the alias to use resend.emails.receiving.forward().",
    );
  },
};

export default PostalMimeNotBundled;
