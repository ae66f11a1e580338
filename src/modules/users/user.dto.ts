/**
 * The account as the API shows it (`User` in the OpenAPI document). A pure mapping
 * with no service behind it, so auth can answer sign-ins with it without depending
 * on the users module's services.
 */
import {
  type NotificationPreferences,
  type NotificationType,
  notificationTypes,
  type User,
} from "../../db/schema";
import { channelsFor } from "../notifications/notification-preferences";
import type { UserDto } from "./users.schemas";

export function avatarUrl(user: Pick<User, "id" | "avatarKey">): string | null {
  return user.avatarKey ? `/api/v1/users/${user.id}/avatar` : null;
}

/**
 * The types the user set, each with all its channels: a channel they never set (`push`, for
 * preferences stored before it existed) shows the default it gets.
 */
function preferencesDto(stored: NotificationPreferences): UserDto["notification_preferences"] {
  return Object.fromEntries(
    (Object.keys(stored) as NotificationType[])
      .filter((type) => notificationTypes.includes(type))
      .map((type) => [type, channelsFor(stored, type)]),
  );
}

export function toUserDto(user: User): UserDto {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    phone_number: user.phoneNumber,
    birth_date: user.birthDate,
    avatar_url: avatarUrl(user),
    email_verified: user.emailVerifiedAt !== null,
    is_active: user.isActive,
    is_staff: user.isStaff,
    notification_preferences: preferencesDto(user.notificationPreferences),
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
    last_login_at: user.lastLoginAt?.toISOString() ?? null,
  };
}
