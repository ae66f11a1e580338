/**
 * Every email the platform sends, by template name. Adding one: write
 * `templates/<name>.ts` with `defineTemplate({ description, schema, compose })`, add it
 * to `definitions` below and its `sendOption("<name>")` line to ../message.ts.
 */
import type { z } from "zod";
import { accountExists } from "./account-exists";
import { billingAlert } from "./billing-alert";
import { emailChangeConfirm, emailChangeNotice } from "./email-change";
import { identityLinked } from "./identity-linked";
import { magicCode } from "./magic-code";
import { newDevice } from "./new-device";
import { notification } from "./notification";
import { orgInvitation } from "./org-invitation";
import { passkeyChanged } from "./passkey-changed";
import { passwordReset } from "./password-reset";
import { securityAlert } from "./security-alert";
import { signInMethodChanged } from "./sign-in-method-changed";
import type { EmailTemplate } from "./types";
import { verifyEmail } from "./verify-email";
import { webhookEndpointDisabled } from "./webhook-endpoint-disabled";
import { welcome } from "./welcome";

const definitions = {
  verify_email: verifyEmail,
  welcome,
  password_reset: passwordReset,
  magic_code: magicCode,
  org_invitation: orgInvitation,
  billing_alert: billingAlert,
  new_device: newDevice,
  notification,
  security_alert: securityAlert,
  account_exists: accountExists,
  email_change_confirm: emailChangeConfirm,
  email_change_notice: emailChangeNotice,
  sign_in_method_changed: signInMethodChanged,
  identity_linked: identityLinked,
  passkey_changed: passkeyChanged,
  webhook_endpoint_disabled: webhookEndpointDisabled,
};

type Definitions = typeof definitions;

export type EmailTemplateName = keyof Definitions;
export type EmailTemplateSchema<T extends EmailTemplateName> = Definitions[T]["schema"];
/** What a caller passes as `data` (before defaults and trimming). */
export type EmailTemplateInput<T extends EmailTemplateName> = z.input<EmailTemplateSchema<T>>;
/** What a template's `compose` receives. */
export type EmailTemplateData<T extends EmailTemplateName> = z.output<EmailTemplateSchema<T>>;

/**
 * Typed as a mapped type so that `emailTemplates[name]` with a generic `name` keeps schema and
 * `compose` correlated (TypeScript would otherwise see a union of incompatible functions).
 */
export const emailTemplates: { [T in EmailTemplateName]: EmailTemplate<EmailTemplateSchema<T>> } =
  definitions;

export const emailTemplateNames = Object.keys(definitions) as EmailTemplateName[];
