import { z } from "zod";
import { displayText, formatUtc, httpUrl } from "./fields";
import { defineTemplate } from "./types";

/** The changes to how an account signs in that its owner is always told about. */
export const SIGN_IN_METHOD_EVENTS = [
  "mfa_enabled",
  "mfa_disabled",
  "recovery_codes_regenerated",
  "recovery_code_used",
] as const;
export type SignInMethodEvent = (typeof SIGN_IN_METHOD_EVENTS)[number];

const texts: Record<SignInMethodEvent, { subject: string; heading: string; what: string }> = {
  mfa_enabled: {
    subject: "Two-step sign-in is on for your {app} account",
    heading: "Two-step sign-in is on",
    what: "An authenticator app was added to your account: from now on, signing in asks for one of its codes.",
  },
  mfa_disabled: {
    subject: "Two-step sign-in was turned off for your {app} account",
    heading: "Two-step sign-in is off",
    what: "The authenticator app was removed from your account: signing in no longer asks for a code.",
  },
  recovery_codes_regenerated: {
    subject: "New recovery codes for your {app} account",
    heading: "Your recovery codes were replaced",
    what: "A new set of recovery codes was made for your account; the previous codes no longer work.",
  },
  recovery_code_used: {
    subject: "A recovery code was used to sign in to your {app} account",
    heading: "A recovery code was used",
    what: "One of your recovery codes was just used to sign in, instead of your authenticator app. Each code works once.",
  },
};

export const signInMethodChanged = defineTemplate({
  description:
    "Security alert: an authenticator app was turned on or off, recovery codes were replaced, or a recovery code was used (passkeys have `passkey_changed`).",
  schema: z.strictObject({
    name: displayText(80).optional(),
    event: z.enum(SIGN_IN_METHOD_EVENTS),
    /** The device and place the change was made from. */
    device: displayText(200).optional(),
    ip: z.union([z.ipv4(), z.ipv6()]).optional(),
    location: displayText(200).optional(),
    occurred_at: z.iso.datetime(),
    /** Where the reader reviews how their account signs in. */
    manage_url: httpUrl,
  }),
  compose: (data, site) => {
    const text = texts[data.event];
    return {
      subject: text.subject.replace("{app}", site.appName),
      preheader: text.what,
      heading: text.heading,
      blocks: [
        { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
        { kind: "paragraph", text: [text.what] },
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
            "If this was you, there is nothing to do. If not, someone may be in your account: change your password, then review your sign-in methods and devices.",
          ],
        },
        { kind: "button", label: "Review your security settings", url: data.manage_url },
      ],
      reason: `You received this security alert because the way your ${site.appName} account signs in changed.`,
    };
  },
});
