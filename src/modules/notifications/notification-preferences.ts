/**
 * Which channels a notification goes to, from the recipient's
 * `users.notification_preferences` (`{ [type]: { in_app, email, push } }`) over these defaults.
 *
 * In the app: every type. Email: only `task_failed`. Task completions and comments are
 * frequent (email would be noise), and invitations and billing alerts already send their
 * own purpose-built emails (accept link, billing details), so a second generic email
 * would be a duplicate.
 *
 * Push: every type a person would want to hear about away from the app (a failed task,
 * an invitation, a billing alert, a comment, a security notice or announcement), but not
 * `task_completed`, which is frequent. Push only reaches devices the user registered
 * (the browser asked them first), so it is on by default where it is useful. Users opt
 * in or out per type and channel.
 *
 * `system` is always shown in the app whatever the preference says: security notices and
 * staff announcements must not be mutable. Its email stays opt-in; security events send
 * their own email directly.
 */
import type { NotificationPreferences, NotificationType } from "../../db/schema";

export type Channels = { in_app: boolean; email: boolean; push: boolean };

export const DEFAULT_CHANNELS: Readonly<Record<NotificationType, Channels>> = {
  task_completed: { in_app: true, email: false, push: false },
  task_failed: { in_app: true, email: true, push: true },
  org_invitation: { in_app: true, email: false, push: true },
  billing_alert: { in_app: true, email: false, push: true },
  new_comment: { in_app: true, email: false, push: true },
  system: { in_app: true, email: false, push: true },
  // The owners get the purpose-built `webhook_endpoint_disabled` email already.
  webhook_endpoint_disabled: { in_app: true, email: false, push: true },
};

export function channelsFor(preferences: NotificationPreferences | null, type: NotificationType): Channels {
  const chosen = preferences?.[type];
  const defaults = DEFAULT_CHANNELS[type];
  const pick = (channel: keyof Channels) =>
    typeof chosen?.[channel] === "boolean" ? (chosen[channel] as boolean) : defaults[channel];
  const channels = { in_app: pick("in_app"), email: pick("email"), push: pick("push") };
  if (type === "system") channels.in_app = true;
  return channels;
}
