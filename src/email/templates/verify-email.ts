import { z } from "zod";
import { displayText, expiresInMinutes, formatDuration, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const verifyEmail = defineTemplate({
  description: "Sent at registration and on /auth/email/resend: a link that confirms the address.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    verify_url: httpUrl,
    /** "This was not me": erases the never-verified account (optional only for emails queued before it existed). */
    disown_url: httpUrl.optional(),
    expires_in_minutes: expiresInMinutes,
  }),
  compose: (data, site) => ({
    subject: `Confirm your email for ${site.appName}`,
    preheader: `Confirm your email address to finish setting up your ${site.appName} account.`,
    heading: "Confirm your email address",
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          `Thanks for signing up to ${site.appName}. Confirm that this address is yours to finish setting up your account.`,
        ],
      },
      { kind: "button", label: "Confirm email address", url: data.verify_url },
      {
        kind: "note",
        text: [`This link expires in ${formatDuration(data.expires_in_minutes)}.`],
      },
      data.disown_url
        ? {
            kind: "note",
            text: [
              "Did not sign up? Someone may have used your address. Deleting the account removes it and frees your address for you: ",
              { link: "This was not me", url: data.disown_url },
            ],
          }
        : { kind: "note", text: ["If you did not create an account, you can ignore this email."] },
    ],
    reason: `You received this email because this address was used to sign up to ${site.appName}.`,
  }),
});
