import { z } from "zod";
import { displayText, formatUtc, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const identityLinked = defineTemplate({
  description:
    "Security notice: an account at an identity provider (Google, GitHub, an OIDC provider) was linked to the account, so it can now sign in with it.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    /** The provider's display name, e.g. "Google". */
    provider: displayText(60),
    /** The address the provider gave for the linked account, when it gave one. */
    provider_email: displayText(254).optional(),
    linked_at: z.iso.datetime(),
    /** Where the reader reviews (and unlinks) their sign-in methods. */
    manage_url: httpUrl,
  }),
  compose: (data, site) => ({
    subject: `${data.provider} can now sign in to your ${site.appName} account`,
    preheader: `A ${data.provider} account was linked to your ${site.appName} account.`,
    heading: `${data.provider} was linked to your account`,
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          `A ${data.provider} account was just linked to your ${site.appName} account. Signing in with it now signs in to your account.`,
        ],
      },
      {
        kind: "details",
        rows: [
          ["Provider", data.provider],
          ["Provider account", data.provider_email ?? "Not shared"],
          ["Time", formatUtc(data.linked_at)],
        ],
      },
      {
        kind: "paragraph",
        text: [
          "If this was you, there is nothing to do. If not, unlink it from your sign-in methods now and change your password.",
        ],
      },
      { kind: "button", label: "Review your sign-in methods", url: data.manage_url },
    ],
    reason: `You received this security notice because a sign-in method was added to your ${site.appName} account.`,
  }),
});
