import { z } from "zod";
import { displayText, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const accountExists = defineTemplate({
  description:
    "Sent instead of a verification email when someone registers an address that already has an account (AUTH_EMAIL_VERIFICATION=required): the owner is told, the registrant learns nothing.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    sign_in_url: httpUrl,
    reset_url: httpUrl,
  }),
  compose: (data, site) => ({
    subject: `You already have an account on ${site.appName}`,
    preheader: "Someone tried to sign up with this address. Sign in instead, or reset your password.",
    heading: "You already have an account",
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          `Someone just tried to create a ${site.appName} account with this address, which already has one. Nothing was changed.`,
        ],
      },
      {
        kind: "paragraph",
        text: ["If it was you, sign in instead (with your password or a code sent to this address)."],
      },
      { kind: "button", label: "Sign in", url: data.sign_in_url },
      { kind: "note", text: ["Forgot your password? ", { link: "Reset it", url: data.reset_url }] },
      {
        kind: "note",
        text: ["If it was not you, you can ignore this email: nobody gets access to your account from it."],
      },
    ],
    reason: `You received this email because this address was used to sign up to ${site.appName}.`,
  }),
});
