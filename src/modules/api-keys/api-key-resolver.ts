import { API_KEY_PATTERN, type CredentialResolver } from "../../middleware/authenticate";
import { authenticateApiKey } from "./api-key-auth";

/** `Authorization: Bearer sk_…` or `X-API-Key: sk_…` → the key's principal (`kind: "api_key"`). */
export const apiKeyResolver: CredentialResolver = {
  name: "api_key",
  accepts: (credential) => API_KEY_PATTERN.test(credential.value),
  resolve: (ctx, credential) => authenticateApiKey(ctx, credential.value),
};
