export const DOCS_PATHS = {
  openapi: "/api/openapi.json",
  docs: "/api/docs",
  redoc: "/api/redoc",
  assets: "/api/docs/assets",
} as const;

/** Links for GET /: null when the docs are switched off. */
export function docsLinks(enabled: boolean) {
  return {
    openapi: enabled ? DOCS_PATHS.openapi : null,
    docs: enabled ? DOCS_PATHS.docs : null,
    redoc: enabled ? DOCS_PATHS.redoc : null,
  };
}
