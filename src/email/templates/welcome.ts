import { z } from "zod";
import { displayText, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const welcome = defineTemplate({
  description: "Sent once the email address is verified.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    /** Where the button goes; APP_URL when absent. */
    getting_started_url: httpUrl.optional(),
  }),
  compose: (data, site) => ({
    subject: `Welcome to ${site.appName}`,
    preheader: `Your email is confirmed and your ${site.appName} account is ready.`,
    heading: `Welcome to ${site.appName}`,
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          "Your email address is confirmed and your account is ready. Your personal organization is set up, so you can create API keys and start building straight away.",
        ],
      },
      { kind: "button", label: "Get started", url: data.getting_started_url ?? site.appUrl },
    ],
    reason: `You received this email because you created an account on ${site.appName}.`,
  }),
});
