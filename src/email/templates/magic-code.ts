import { z } from "zod";
import { expiresInMinutes, formatDuration, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const magicCode = defineTemplate({
  description: "Sent by /auth/magic/request: an 8-digit sign-in code and a one-click sign-in link.",
  schema: z.strictObject({
    code: z.string().regex(/^\d{8}$/, "must be 8 digits"),
    magic_url: httpUrl,
    expires_in_minutes: expiresInMinutes,
  }),
  compose: (data, site) => ({
    // The code stays out of the subject and preheader: those show on lock screens and notification banners.
    subject: `Your ${site.appName} sign-in code`,
    preheader: `Use this code to sign in to ${site.appName}. It expires in ${formatDuration(data.expires_in_minutes)}.`,
    heading: "Your sign-in code",
    blocks: [
      { kind: "paragraph", text: [`Enter this code to sign in to ${site.appName}:`] },
      { kind: "code", code: data.code },
      { kind: "paragraph", text: ["Or sign in on this device with one click:"] },
      { kind: "button", label: `Sign in to ${site.appName}`, url: data.magic_url },
      {
        kind: "note",
        text: [
          `The code and the link work once and expire in ${formatDuration(data.expires_in_minutes)}. Never share this code: we will never ask you for it. If you did not try to sign in, ignore this email.`,
        ],
      },
    ],
    reason: `You received this email because a sign-in to ${site.appName} was requested for this address.`,
  }),
});
