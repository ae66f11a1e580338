import { z } from "zod";
import { displayText, formatUtc, httpUrl } from "./fields";
import { defineTemplate } from "./types";

/**
 * A passkey was added to or removed from the account. Either is a change to how the
 * account can be signed in to, so the owner hears of it even when they made it: an
 * attacker holding a session would add their own passkey to keep a way in.
 */
export const passkeyChanged = defineTemplate({
  description: "Security alert: a passkey was added to the account, or removed from it.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    event: z.enum(["passkey_added", "passkey_removed"]),
    /** The passkey's name as the owner sees it in their list. */
    passkey_name: displayText(64),
    /** "Firefox on Windows": the device the change was made from. */
    device: displayText(200).optional(),
    ip: z.union([z.ipv4(), z.ipv6()]).optional(),
    location: displayText(200).optional(),
    occurred_at: z.iso.datetime(),
    /** Where the reader reviews their passkeys and devices. */
    manage_url: httpUrl,
  }),
  compose: (data, site) => {
    const added = data.event === "passkey_added";
    return {
      subject: added
        ? `A passkey was added to your ${site.appName} account`
        : `A passkey was removed from your ${site.appName} account`,
      preheader: added
        ? `"${data.passkey_name}" can now sign in to your account.`
        : `"${data.passkey_name}" can no longer sign in to your account.`,
      heading: added ? "New passkey on your account" : "Passkey removed from your account",
      blocks: [
        { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
        {
          kind: "paragraph",
          text: added
            ? [
                "A passkey named ",
                { strong: data.passkey_name },
                ` was added to your ${site.appName} account. It can now sign you in without a password.`,
              ]
            : [
                "The passkey named ",
                { strong: data.passkey_name },
                ` was removed from your ${site.appName} account. It can no longer sign you in.`,
              ],
        },
        {
          kind: "details",
          rows: [
            ["Passkey", data.passkey_name],
            ["From", data.device ?? "Unknown device"],
            ["Location", data.location ?? "Unknown"],
            ...(data.ip ? [["IP address", data.ip] as const] : []),
            ["Time", formatUtc(data.occurred_at)],
          ],
        },
        {
          kind: "paragraph",
          text: added
            ? [
                "If this was you, there is nothing to do. If not, someone is signed in to your account: remove that passkey, sign out the devices you do not recognise and change your password.",
              ]
            : [
                "If this was you, there is nothing to do. If not, someone is signed in to your account: sign out the devices you do not recognise and change your password.",
              ],
        },
        { kind: "button", label: "Review your passkeys", url: data.manage_url },
      ],
      reason: `You received this security alert because of a change to how your ${site.appName} account signs in.`,
    };
  },
});
