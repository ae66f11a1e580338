import { z } from "zod";
import { displayText, formatUtc, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const securityAlert = defineTemplate({
  description:
    "Security alert: a refresh token that was already used was presented again, so the session it belonged to was signed out.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    event: z.literal("refresh_token_reused"),
    /** The signed-out session's device ("Firefox on Windows", or the raw User-Agent). */
    device: displayText(200).optional(),
    /** Where the reused token was presented from. */
    ip: z.union([z.ipv4(), z.ipv6()]).optional(),
    location: displayText(200).optional(),
    occurred_at: z.iso.datetime(),
    /** Where the reader reviews their signed-in devices. */
    manage_url: httpUrl,
  }),
  compose: (data, site) => ({
    subject: `Security alert: a device was signed out of your ${site.appName} account`,
    preheader: "A sign-in token was used twice, so we signed that device out to protect your account.",
    heading: "We signed a device out of your account",
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          "A sign-in token of your account that had already been used was presented again. That happens when a token is copied and used by someone else, so we signed that device out.",
        ],
      },
      {
        kind: "details",
        rows: [
          ["Device", data.device ?? "Unknown"],
          ["Location", data.location ?? "Unknown"],
          ...(data.ip ? [["IP address", data.ip] as const] : []),
          ["Time", formatUtc(data.occurred_at)],
        ],
      },
      {
        kind: "paragraph",
        text: [
          "If you just signed in again on that device, there is nothing else to do. If anything looks unfamiliar, change your password and sign out the devices you do not recognise.",
        ],
      },
      { kind: "button", label: "Review your devices", url: data.manage_url },
    ],
    reason: `You received this security alert because of activity on your ${site.appName} account.`,
  }),
});
