import { z } from "zod";
import { displayText, expiresInMinutes, formatDuration, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const passwordReset = defineTemplate({
  description: "Sent by /auth/password/forgot when the account exists: a single-use reset link.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    reset_url: httpUrl,
    expires_in_minutes: expiresInMinutes,
  }),
  compose: (data, site) => ({
    subject: `Reset your ${site.appName} password`,
    preheader: "Someone asked to reset the password of your account. If it was you, use the link inside.",
    heading: "Reset your password",
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          `We received a request to reset the password of your ${site.appName} account. Choose a new password with the button below; every device signed in to your account will be signed out.`,
        ],
      },
      { kind: "button", label: "Choose a new password", url: data.reset_url },
      {
        kind: "note",
        text: [
          `This link works once and expires in ${formatDuration(data.expires_in_minutes)}. If you did not ask for it, ignore this email: your password stays as it is.`,
        ],
      },
    ],
    reason: `You received this email because a password reset was requested for this address on ${site.appName}.`,
  }),
});
