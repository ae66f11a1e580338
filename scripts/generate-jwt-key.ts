/**
 * Prints a new ES256 private JWK (with a fresh `kid`) for JWT_PRIVATE_KEYS.
 * Rotation: put the new key first and keep the old one after it until every
 * token it signed has expired (ACCESS_TOKEN_TTL), then drop it.
 *
 *   node scripts/generate-jwt-key.ts
 */
import { generateSigningKey } from "./lib/dev-vars.ts";

console.log(generateSigningKey());
