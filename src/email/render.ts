/**
 * Template name + validated data → the subject, HTML and text of one email.
 * Pure (no clock, no randomness), so a retried message renders byte for byte the
 * same and the provider's idempotency key always matches the same payload.
 */
import type { Config } from "../env";
import { type EmailTemplateData, type EmailTemplateName, emailTemplates } from "./templates";
import { renderHtml, renderText } from "./templates/layout";
import type { Site } from "./templates/types";

export type RenderedEmail = { subject: string; html: string; text: string };

export function siteFromConfig(config: Pick<Config, "APP_NAME" | "APP_URL">): Site {
  // APP_URL is a base; links and the footer read better without a trailing slash.
  return { appName: config.APP_NAME, appUrl: config.APP_URL.replace(/\/+$/, "") };
}

export function renderEmail<T extends EmailTemplateName>(
  template: T,
  data: EmailTemplateData<T>,
  site: Site,
): RenderedEmail {
  const content = emailTemplates[template].compose(data, site);
  return { subject: content.subject, html: renderHtml(content, site), text: renderText(content, site) };
}
