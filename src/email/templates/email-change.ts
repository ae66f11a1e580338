/** The two emails of an address change: the confirmation link to the new address, the notice to the old one. */
import { z } from "zod";
import { displayText, expiresInMinutes, formatDuration, formatUtc, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const emailChangeConfirm = defineTemplate({
  description:
    "Sent to the NEW address by POST /users/me/email: the link that makes it the account's address.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    confirm_url: httpUrl,
    expires_in_minutes: expiresInMinutes,
  }),
  compose: (data, site) => ({
    subject: `Confirm your new email address for ${site.appName}`,
    preheader: `Confirm this address to make it the sign-in address of your ${site.appName} account.`,
    heading: "Confirm your new email address",
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          `You asked to use this address for your ${site.appName} account. Confirm it to finish: until then your old address stays in use.`,
        ],
      },
      { kind: "button", label: "Confirm new address", url: data.confirm_url },
      {
        kind: "note",
        text: [
          `This link expires in ${formatDuration(data.expires_in_minutes)}. If you did not ask for this, ignore this email: nothing changes.`,
        ],
      },
    ],
    reason: `You received this email because this address was entered as the new address of a ${site.appName} account.`,
  }),
});

export const emailChangeNotice = defineTemplate({
  description:
    "Sent to the CURRENT address by POST /users/me/email: a change to another address was asked for (nothing changes until it is confirmed there).",
  schema: z.strictObject({
    name: displayText(80).optional(),
    /** The new address, partly masked (`a***@example.com`). */
    new_email_hint: displayText(254),
    requested_at: z.iso.datetime(),
    security_url: httpUrl,
  }),
  compose: (data, site) => ({
    subject: `Your ${site.appName} email address is about to change`,
    preheader: `A change of your sign-in address to ${data.new_email_hint} was requested.`,
    heading: "An email change was requested",
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          "Someone signed in to your account asked to change its email address to ",
          { strong: data.new_email_hint },
          ". It changes only when the link sent to that address is used.",
        ],
      },
      { kind: "details", rows: [["Requested", formatUtc(data.requested_at)]] },
      {
        kind: "paragraph",
        text: [
          "If this was you, there is nothing to do here. If it was not, change your password and sign out the devices you do not recognise now.",
        ],
      },
      { kind: "button", label: "Review your account security", url: data.security_url },
    ],
    reason: `You received this security notice because of activity on your ${site.appName} account.`,
  }),
});
