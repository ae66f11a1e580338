import { z } from "@hono/zod-openapi";
import { RoleSchema } from "../orgs/orgs.schemas";
import { UserSchema, userExample } from "../users/users.schemas";

export const adminUserExample = {
  ...userExample,
  active_sessions: 2,
  organizations: [
    {
      id: "0190c6d0-2b3c-7d4e-9f50-6a7b8c9d0e1f",
      name: "Acme Robotics",
      slug: "acme-robotics",
      role: "owner",
    },
  ],
};

export const MAX_MEMBERSHIPS_SHOWN = 100;

export const AdminUserSchema = UserSchema.extend({
  active_sessions: z.number().int().openapi({ description: "Sessions neither revoked nor expired." }),
  organizations: z
    .array(z.object({ id: z.uuid(), name: z.string(), slug: z.string(), role: RoleSchema }))
    .openapi({ description: `Memberships (at most ${MAX_MEMBERSHIPS_SHOWN}, oldest first).` }),
}).openapi("AdminUser", { example: adminUserExample });

export type AdminUserDto = z.infer<typeof AdminUserSchema>;

export const UpdateUserAccessSchema = z
  .strictObject({
    is_active: z
      .boolean()
      .optional()
      .openapi({ description: "false disables the account: it cannot sign in, and its sessions end." }),
    is_staff: z.boolean().optional().openapi({ description: "Grants or removes access to this admin API." }),
  })
  .refine((body) => body.is_active !== undefined || body.is_staff !== undefined, {
    message: "Send is_active, is_staff, or both.",
  })
  .openapi("UpdateUserAccessRequest", { example: { is_active: false } });

export type UpdateUserAccessInput = z.infer<typeof UpdateUserAccessSchema>;

export const RevokedSessionsSchema = z
  .object({
    revoked_sessions: z.number().int().openapi({ description: "Sessions that were live and now are not." }),
  })
  .openapi("RevokedSessions", { example: { revoked_sessions: 3 } });
