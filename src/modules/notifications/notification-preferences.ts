/**
 * Which channels a notification goes to, from the recipient's
 * `users.notification_preferences` (`{ [type]: { in_app, email } }`) over these defaults.
 *
 * Defaults: every type is shown in the app; only `task_failed` is also emailed. Task
 * completions and comments are frequent (email would be noise), and invitations and billing
 * alerts already send their own purpose-built emails (accept link, billing details), so a
 * second generic email would be a duplicate. Users opt in or out per type.
 *
 * `system` is always shown in the app whatever the preference says: security notices and
 * staff announcements must not be mutable. Its email stays opt-in; security events send
 * their own email directly.
 */
import type { NotificationPreferences, NotificationType } from "../../db/schema";

export type Channels = { in_app: boolean; email: boolean };

export const DEFAULT_CHANNELS: Readonly<Record<NotificationType, Channels>> = {
  task_completed: { in_app: true, email: false },
  task_failed: { in_app: true, email: true },
  org_invitation: { in_app: true, email: false },
  billing_alert: { in_app: true, email: false },
  new_comment: { in_app: true, email: false },
  system: { in_app: true, email: false },
  // The owners get the purpose-built `webhook_endpoint_disabled` email already.
  webhook_endpoint_disabled: { in_app: true, email: false },
};

export function channelsFor(preferences: NotificationPreferences | null, type: NotificationType): Channels {
  const chosen = preferences?.[type];
  const defaults = DEFAULT_CHANNELS[type];
  const channels = {
    in_app: typeof chosen?.in_app === "boolean" ? chosen.in_app : defaults.in_app,
    email: typeof chosen?.email === "boolean" ? chosen.email : defaults.email,
  };
  if (type === "system") channels.in_app = true;
  return channels;
}
