import { z } from "zod";
import { displayText, formatUtc, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const newDevice = defineTemplate({
  description: "Security alert: a sign-in from a device or country the account has not used before.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    /** "Firefox on Windows", derived from the User-Agent. */
    device: displayText(200),
    /** "Lisbon, Portugal", from the request's country/city. */
    location: displayText(200).optional(),
    ip: z.union([z.ipv4(), z.ipv6()]).optional(),
    signed_in_at: z.iso.datetime(),
    /** Revokes exactly the session that triggered the alert. */
    revoke_url: httpUrl,
  }),
  compose: (data, site) => ({
    subject: `New sign-in to your ${site.appName} account`,
    preheader: `${data.device}${data.location ? ` in ${data.location}` : ""} signed in to your account.`,
    heading: "New sign-in to your account",
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          `Your ${site.appName} account was just used to sign in from a device or place we have not seen before:`,
        ],
      },
      {
        kind: "details",
        rows: [
          ["Device", data.device],
          ["Location", data.location ?? "Unknown"],
          ...(data.ip ? [["IP address", data.ip] as const] : []),
          ["Time", formatUtc(data.signed_in_at)],
        ],
      },
      {
        kind: "paragraph",
        text: [
          "If this was you, there is nothing to do. If not, sign that device out now and change your password.",
        ],
      },
      { kind: "button", label: "Sign out this device", url: data.revoke_url },
    ],
    reason: `You received this security alert because of a new sign-in to your ${site.appName} account.`,
  }),
});
