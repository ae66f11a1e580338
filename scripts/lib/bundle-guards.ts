/**
 * The checks that keep wrangler.toml's `alias` stand-ins (src/bundle-aliases) honest, run by
 * `npm run build:check` on the real bundle and by test/bundle-aliases.test.ts on the sources.
 * Pure functions over text: no file system, so the test runs them inside workerd.
 */

/**
 * The package each stand-in is for. Wrangler matches an alias against the exact specifier
 * wherever it appears, so a relative key ("./resources.js") caught in another package would
 * silently get our stand-in: every relative key must point at a stand-in listed here, and only
 * that package may import it.
 */
export const STAND_IN_OWNERS: Record<string, RegExp> = {
  "./src/bundle-aliases/zod-locales.ts": /node_modules\/zod\//,
  "./src/bundle-aliases/webauthn-attestation.ts": /node_modules\/@simplewebauthn\/server\//,
  "./src/bundle-aliases/webauthn-ec2-signature.ts": /node_modules\/@simplewebauthn\/server\//,
  "./src/bundle-aliases/stripe-resources.ts": /node_modules\/stripe\//,
};

export const STRIPE_STAND_IN = "./src/bundle-aliases/stripe-resources.ts";

type Metafile = { inputs: Record<string, { imports?: Array<{ path: string; original?: string }> }> };

/** "./x.js imported by node_modules/foo/y.js" for each relative alias reached from outside its package. */
export function misusedRelativeAliases(aliases: Record<string, string>, meta: Metafile): string[] {
  const problems: string[] = [];
  for (const [key, target] of Object.entries(aliases)) {
    if (key.startsWith(".") && !STAND_IN_OWNERS[target])
      problems.push(`${key}: its stand-in ${target} has no owning package in scripts/lib/bundle-guards.ts`);
  }
  for (const [importer, { imports = [] }] of Object.entries(meta.inputs)) {
    for (const { original } of imports) {
      if (original === undefined || !original.startsWith(".")) continue;
      const target = aliases[original];
      const owner = target === undefined ? undefined : STAND_IN_OWNERS[target];
      if (owner && !owner.test(importer)) problems.push(`${original} imported by ${importer}`);
    }
  }
  return problems;
}

/**
 * The Stripe client properties whose resource the aliases leave out, each with its alias key:
 * read from stripe.core.js (`import { InvoiceResource } from './resources/Invoices.js'` and
 * `this.invoices = new InvoiceResource(this)`), so the list follows the installed SDK.
 */
export function stripeResourcesLeftOut(
  aliases: Record<string, string>,
  stripeCoreSource: string,
): Map<string, string> {
  const specifierOf = new Map<string, string>();
  for (const [, names = "", specifier = ""] of stripeCoreSource.matchAll(
    /import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g,
  )) {
    for (const name of names.split(",")) {
      const local = name
        .trim()
        .split(/\s+as\s+/)
        .pop();
      if (local) specifierOf.set(local, specifier);
    }
  }
  const leftOut = new Map<string, string>();
  for (const [, property = "", className = ""] of stripeCoreSource.matchAll(
    /this\.(\w+)\s*=\s*new\s+(\w+)\(this\)/g,
  )) {
    const specifier = specifierOf.get(className);
    if (specifier && aliases[specifier] === STRIPE_STAND_IN) leftOut.set(property, specifier);
  }
  return leftOut;
}

/** Source without its comments, line breaks kept (so line numbers still match). */
function withoutComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, " "))
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1");
}

/**
 * Every use in `files` of a Stripe resource the aliases leave out: `stripe.invoices…`, also
 * through `this.stripe` or a `stripeClient` variable (any identifier containing "stripe").
 */
export function stripeCallsLeftOut(files: Record<string, string>, leftOut: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [path, source] of Object.entries(files)) {
    withoutComments(source)
      .split("\n")
      .forEach((line, index) => {
        for (const [, property = ""] of line.matchAll(
          /\b[\w$]*stripe[\w$]*\s*\??\.\s*([A-Za-z_$][\w$]*)/gi,
        )) {
          const specifier = leftOut.get(property);
          if (specifier)
            found.push(
              `${path}:${index + 1} calls stripe.${property}, which the bundle leaves out: remove the line ` +
                `"${specifier}" = "${STRIPE_STAND_IN}" from wrangler.toml's [alias]`,
            );
        }
      });
  }
  return found;
}
