/**
 * The account as the API shows it (`User` in the OpenAPI document). A pure mapping
 * with no service behind it, so auth can answer sign-ins with it without depending
 * on the users module's services.
 */
import type { User } from "../../db/schema";
import type { UserDto } from "./users.schemas";

export function avatarUrl(user: Pick<User, "id" | "avatarKey">): string | null {
  return user.avatarKey ? `/api/v1/users/${user.id}/avatar` : null;
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
    notification_preferences: user.notificationPreferences,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
    last_login_at: user.lastLoginAt?.toISOString() ?? null,
  };
}
