import { type Bindings, type Config, ConfigError } from "../../env";
import { EMAIL_PROVIDER_SECRETS, type EmailProvider } from "../provider";
import { createCloudflareEmailProvider } from "./cloudflare";
import { createConsoleProvider } from "./console";
import { createMailgunProvider } from "./mailgun";
import { createPostmarkProvider } from "./postmark";
import { createResendProvider } from "./resend";
import { createSendgridProvider } from "./sendgrid";

type EmailConfig = Pick<
  Config,
  | "EMAIL_PROVIDER"
  | "EMAIL_API_BASE_URL"
  | "RESEND_API_KEY"
  | "POSTMARK_SERVER_TOKEN"
  | "SENDGRID_API_KEY"
  | "MAILGUN_API_KEY"
  | "MAILGUN_DOMAIN"
>;

const secretHint = (name: string) =>
  `set it with \`wrangler secret put ${name} --env <env>\` (or in .dev.vars locally)`;

/**
 * What the configured provider still lacks, one sentence per missing setting (empty when it can
 * send). Delivery refuses with these as a ConfigError; GET /health reports them as its `email` check.
 */
export function emailProviderIssues(config: EmailConfig, env: Bindings): string[] {
  const required = (name: keyof EmailConfig) =>
    config[name]
      ? []
      : [`${name}: required when EMAIL_PROVIDER=${config.EMAIL_PROVIDER}; ${secretHint(name)}`];
  switch (config.EMAIL_PROVIDER) {
    case "console":
      return [];
    case "resend":
    case "postmark":
    case "sendgrid":
      return required(EMAIL_PROVIDER_SECRETS[config.EMAIL_PROVIDER]);
    case "mailgun":
      return [
        ...required(EMAIL_PROVIDER_SECRETS.mailgun),
        ...(config.MAILGUN_DOMAIN
          ? []
          : [
              "MAILGUN_DOMAIN: required when EMAIL_PROVIDER=mailgun; the sending domain, e.g. mg.example.com, in wrangler.toml [vars]",
            ]),
      ];
    case "cloudflare":
      return env.SEND_EMAIL
        ? []
        : [
            'SEND_EMAIL: EMAIL_PROVIDER=cloudflare needs a send_email binding named SEND_EMAIL in this environment of wrangler.toml ([[env.<env>.send_email]] name = "SEND_EMAIL")',
          ];
  }
}

/**
 * The provider EMAIL_PROVIDER names. A provider without its key is refused here, at send
 * time, rather than when the config is parsed: the rest of the API keeps serving, the
 * message is retried, and it goes out once the secret is set.
 */
export function createEmailProvider(config: EmailConfig, env: Bindings): EmailProvider {
  const issues = emailProviderIssues(config, env);
  if (issues.length > 0) throw new ConfigError(issues);
  const baseUrl = config.EMAIL_API_BASE_URL;
  // After the check above each provider's settings are there; `?? ""` only satisfies the types.
  switch (config.EMAIL_PROVIDER) {
    case "console":
      return createConsoleProvider();
    case "resend":
      return createResendProvider({ apiKey: config.RESEND_API_KEY ?? "", baseUrl });
    case "postmark":
      return createPostmarkProvider({ serverToken: config.POSTMARK_SERVER_TOKEN ?? "", baseUrl });
    case "sendgrid":
      return createSendgridProvider({ apiKey: config.SENDGRID_API_KEY ?? "", baseUrl });
    case "mailgun":
      return createMailgunProvider({
        apiKey: config.MAILGUN_API_KEY ?? "",
        domain: config.MAILGUN_DOMAIN ?? "",
        baseUrl,
      });
    case "cloudflare":
      return createCloudflareEmailProvider(env.SEND_EMAIL as SendEmail);
  }
}
