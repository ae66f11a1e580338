import { z } from "zod";
import { displayText, httpUrl } from "./fields";
import { defineTemplate } from "./types";

/** How each notification type is named in the email's small print. */
const TYPE_LABELS = {
  task_completed: "task completed",
  task_failed: "task failed",
  org_invitation: "organization invitation",
  billing_alert: "billing alert",
  new_comment: "new comment",
  system: "system",
  webhook_endpoint_disabled: "webhook endpoint disabled",
} as const;

export const notification = defineTemplate({
  description:
    "An in-app notification sent by email too, when the recipient's notification_preferences ask for email for its type.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    type: z.enum(Object.keys(TYPE_LABELS) as [keyof typeof TYPE_LABELS, ...(keyof typeof TYPE_LABELS)[]]),
    title: displayText(200),
    message: displayText(2000),
    /** The notification's target_url made absolute; without one the button opens APP_URL. */
    action_url: httpUrl.optional(),
  }),
  compose: (data, site) => ({
    subject: data.title,
    preheader: data.message.slice(0, 140),
    heading: data.title,
    blocks: [
      ...(data.name ? [{ kind: "paragraph", text: [`Hi ${data.name},`] } as const] : []),
      { kind: "paragraph", text: [data.message] },
      { kind: "button", label: "Open", url: data.action_url ?? site.appUrl },
      {
        kind: "note",
        text: [
          `You can turn off emails for ${TYPE_LABELS[data.type]} notifications in your notification preferences.`,
        ],
      },
    ],
    reason: `You received this email because your ${site.appName} notification preferences ask for email about ${TYPE_LABELS[data.type]} notifications.`,
  }),
});
