import { type Config, ConfigError } from "../../env";
import type { EmailProvider } from "../provider";
import { createConsoleProvider } from "./console";
import { createResendProvider } from "./resend";

/**
 * The provider EMAIL_PROVIDER names. Resend without its key is refused here, at send
 * time, rather than when the config is parsed: the rest of the API keeps serving, the
 * message is retried, and it goes out once the secret is set.
 */
export function createEmailProvider(
  config: Pick<Config, "EMAIL_PROVIDER" | "RESEND_API_KEY">,
): EmailProvider {
  switch (config.EMAIL_PROVIDER) {
    case "console":
      return createConsoleProvider();
    case "resend":
      if (!config.RESEND_API_KEY) {
        throw new ConfigError([
          "RESEND_API_KEY: required when EMAIL_PROVIDER=resend; set it with `wrangler secret put RESEND_API_KEY --env <env>` (or in .dev.vars locally)",
        ]);
      }
      return createResendProvider({ apiKey: config.RESEND_API_KEY });
  }
}
