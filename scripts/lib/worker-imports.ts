/**
 * Lets a script import Worker code (src/) in Node, which the Worker's bundler (Wrangler,
 * Vite) reads differently in two ways:
 * - its imports name no file extension (`./env`); Node's ESM resolver wants `./env.ts`, so a
 *   relative import that was not found is retried with `.ts` added;
 * - it uses TypeScript that Node's default type stripping refuses (constructor parameter
 *   properties), so src/ files are transformed with Node's own stripTypeScriptTypes in
 *   `transform` mode instead.
 */
import { registerHooks, stripTypeScriptTypes } from "node:module";

let registered = false;

export function allowWorkerImports(): void {
  if (registered) return;
  registered = true;
  const workerSource = new URL("../../src/", import.meta.url).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const notFound = (error as { code?: string }).code === "ERR_MODULE_NOT_FOUND";
        if (!notFound || !/^\.\.?\//.test(specifier) || /\.[cm]?[jt]s$/.test(specifier)) throw error;
        return nextResolve(`${specifier}.ts`, context);
      }
    },
    load(url, context, nextLoad) {
      const loaded = nextLoad(url, context);
      if (!url.startsWith(workerSource) || !url.endsWith(".ts")) return loaded;
      const source = stripTypeScriptTypes(String(loaded.source), { mode: "transform", sourceUrl: url });
      return { format: "module", source, shortCircuit: true };
    },
  });
}
