import { z } from "@hono/zod-openapi";
import { notificationTypes } from "../../db/schema";
import { booleanFilter, listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { ReauthenticationFields } from "../auth/reauthentication.schemas";

export const USER_ID_EXAMPLE = "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60";
const SESSION_ID_EXAMPLE = "0190c6c5-1a2b-7c3d-8e4f-5a6b7c8d9e0f";

/** Lower-cased and trimmed before it is checked: one account per address whatever the letter case. */
export const EmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, { abort: true })
  .check(z.email({ error: "Enter a valid email address." }))
  .openapi({ example: "ada@example.com", description: "Case-insensitive; stored lower-cased." });

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Displayed as typed, unique whatever the case; never contains "@" (so it cannot be mistaken for an email). */
export const UsernameSchema = z
  .string()
  .trim()
  .min(3)
  .max(32, { abort: true })
  .regex(USERNAME_PATTERN, "Use letters, digits, '_', '.' or '-', starting with a letter or a digit.")
  .openapi({ example: "ada_l" });

export const NameSchema = z.string().trim().max(100).openapi({ example: "Ada" });

export const PhoneNumberSchema = z
  .string()
  .trim()
  .regex(/^\+[1-9]\d{1,14}$/, "Use the E.164 format, e.g. +14155550123.")
  .openapi({ example: "+14155550123", description: "E.164." });

const today = () => new Date().toISOString().slice(0, 10);

export const BirthDateSchema = z.iso
  .date({ error: "Use a real date as YYYY-MM-DD.", abort: true })
  .refine((value) => value >= "1900-01-01", "The birth date must be after 1900-01-01.")
  .refine((value) => value <= today(), "The birth date must not be in the future.")
  .openapi({ example: "1990-12-10" });

/** The notification types (src/db/schema/notifications.ts) are the only keys preferences may use. */
const PreferenceTypeSchema = z.enum(notificationTypes);

export const NotificationChannelsSchema = z
  .object({ in_app: z.boolean(), email: z.boolean(), push: z.boolean() })
  .openapi("NotificationChannels", { example: { in_app: true, email: false, push: true } });

export const NotificationPreferencesSchema = z
  .partialRecord(PreferenceTypeSchema, NotificationChannelsSchema)
  .openapi("NotificationPreferences", {
    description:
      "Per notification type: whether it is delivered in the app, by email and by push (to the devices registered under /users/me/push-subscriptions). Types not listed use the defaults: shown in the app, emailed only for `task_failed`, pushed for every type but `task_completed`. `system` notifications are always shown in the app.",
    example: {
      task_completed: { in_app: true, email: true, push: false },
      new_comment: { in_app: false, email: false, push: true },
    },
  });

export const userExample = {
  id: USER_ID_EXAMPLE,
  email: "ada@example.com",
  username: "ada_l",
  first_name: "Ada",
  last_name: "Lovelace",
  phone_number: "+14155550123",
  birth_date: "1990-12-10",
  avatar_url: `/api/v1/users/${USER_ID_EXAMPLE}/avatar`,
  email_verified: true,
  is_active: true,
  is_staff: false,
  notification_preferences: { task_completed: { in_app: true, email: true, push: false } },
  created_at: "2026-11-01T09:30:00.000Z",
  updated_at: "2026-11-20T17:02:11.000Z",
  last_login_at: "2026-11-21T08:15:42.000Z",
};

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.email(),
    username: z.string().nullable(),
    first_name: z.string(),
    last_name: z.string(),
    phone_number: z.string().nullable(),
    birth_date: z.iso.date().nullable(),
    avatar_url: z.string().nullable().openapi({ description: "Null until an avatar is uploaded." }),
    email_verified: z.boolean(),
    is_active: z.boolean(),
    is_staff: z.boolean(),
    notification_preferences: NotificationPreferencesSchema,
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    last_login_at: z.iso.datetime().nullable(),
  })
  .openapi("User", { example: userExample });

export type UserDto = z.infer<typeof UserSchema>;

export const ChangeEmailSchema = z
  .strictObject({
    email: EmailSchema,
    ...ReauthenticationFields,
  })
  .openapi("ChangeEmailRequest", {
    example: { email: "ada.lovelace@example.org", current_password: "correct horse battery staple" },
  });

export const EmailChangeAcceptedSchema = z
  .object({
    status: z.literal("confirmation_sent"),
    expires_in: z.number().int().openapi({ description: "Seconds the confirmation link stays valid." }),
  })
  .openapi("EmailChangeAccepted");

export const UpdateProfileSchema = z
  .strictObject({
    username: UsernameSchema.nullable().optional().openapi({ description: "null removes it." }),
    first_name: NameSchema.optional(),
    last_name: NameSchema.optional(),
    phone_number: PhoneNumberSchema.nullable().optional(),
    birth_date: BirthDateSchema.nullable().optional(),
    notification_preferences: z
      .partialRecord(
        PreferenceTypeSchema,
        z.strictObject({
          in_app: z.boolean().optional(),
          email: z.boolean().optional(),
          push: z.boolean().optional(),
        }),
      )
      .optional()
      .openapi({
        description:
          "Merged into the stored preferences, type by type and channel by channel; a channel left out keeps its current (or default) value.",
        example: { task_completed: { email: true } },
      }),
  })
  .openapi("UpdateProfileRequest", {
    example: { first_name: "Ada", phone_number: "+14155550123", birth_date: "1990-12-10" },
  });

export type UpdateProfileInput = z.infer<typeof UpdateProfileSchema>;

export const UserIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: USER_ID_EXAMPLE }),
});

export const SessionIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: SESSION_ID_EXAMPLE }),
});

export const USER_SORT_FIELDS = ["created_at", "email"] as const;

export const ListUsersQuery = listQuery({
  sort: USER_SORT_FIELDS,
  defaultSort: "-created_at",
  filters: {
    "filter[is_staff]": booleanFilter,
    "filter[is_active]": booleanFilter,
    "filter[email_verified]": booleanFilter,
  },
}).safeExtend({
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .openapi({
      param: { name: "q", in: "query" },
      description: "Case-insensitive substring of the email, username, first or last name.",
      example: "ada",
    }),
});

export const UserPageSchema = pageSchema(UserSchema, "UserPage");

export const SessionSchema = z
  .object({
    id: z.uuid(),
    user_agent: z.string().nullable(),
    ip: z.string().nullable(),
    country: z.string().nullable().openapi({ description: "ISO 3166-1 alpha-2, from Cloudflare." }),
    city: z.string().nullable(),
    created_at: z.iso.datetime(),
    last_used_at: z.iso.datetime(),
    current: z.boolean().openapi({ description: "True for the session of the token making this request." }),
    new_device: z.boolean().openapi({
      description:
        "True when this sign-in came from a device or country the account had not used before (a security email was sent).",
    }),
  })
  .openapi("Session", {
    example: {
      id: SESSION_ID_EXAMPLE,
      user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
      ip: "203.0.113.24",
      country: "GB",
      city: "London",
      created_at: "2026-11-20T08:00:00.000Z",
      last_used_at: "2026-11-21T08:15:42.000Z",
      current: true,
      new_device: false,
    },
  });

export type SessionDto = z.infer<typeof SessionSchema>;

export const ListSessionsQuery = listQuery({
  sort: ["created_at", "last_used_at"],
  defaultSort: "-last_used_at",
});

export const SessionPageSchema = pageSchema(SessionSchema, "SessionPage");
