import { z } from "@hono/zod-openapi";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { EmailSchema, USER_ID_EXAMPLE } from "../users/users.schemas";
import { orgRoles } from "./permissions";

export const ORG_ID_EXAMPLE = "0190c6d0-2b3c-7d4e-9f50-6a7b8c9d0e1f";
export const INVITATION_ID_EXAMPLE = "0190c6d2-4d5e-7f60-8a71-2b3c4d5e6f70";

export const RoleSchema = z.enum(orgRoles).openapi("OrgRole", {
  description:
    "`owner`: everything, including deleting the organization and managing owners. `admin`: settings, members, invitations and API keys. `member`: reads the organization and works in it. `billing`: reads the organization and manages billing.",
  example: "member",
});

/** Shown in emails and lists: no control characters (a newline would reach an email subject). */
export const OrgNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(120)
  .regex(/^[^\p{Cc}]*$/u, "Must not contain control characters.")
  .openapi({ example: "Acme Robotics" });

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

export const SlugSchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(3)
  .max(48)
  .regex(SLUG_PATTERN, "Use lower-case letters, digits and '-', starting and ending with a letter or digit.")
  .openapi({ example: "acme-robotics", description: "Unique; lower-cased." });

export const orgExample = {
  id: ORG_ID_EXAMPLE,
  name: "Acme Robotics",
  slug: "acme-robotics",
  is_personal: false,
  require_mfa: false,
  role: "owner",
  created_at: "2026-11-01T09:30:00.000Z",
  updated_at: "2026-11-20T17:02:11.000Z",
};

export const OrgSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    is_personal: z.boolean().openapi({
      description: "The organization created with the account; it goes away with the account.",
    }),
    require_mfa: z.boolean().openapi({
      description:
        "Members must have signed in with a second factor (authenticator app or passkey) to use it; API keys are unaffected.",
    }),
    role: RoleSchema.nullable().openapi({
      description: "Your role in it; null when the caller is an API key.",
    }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Organization", { example: orgExample });

export type OrgDto = z.infer<typeof OrgSchema>;

export const OrgPageSchema = pageSchema(OrgSchema, "OrganizationPage");

export const CreateOrgSchema = z
  .strictObject({
    name: OrgNameSchema,
    slug: SlugSchema.optional().openapi({ description: "Derived from the name when omitted." }),
  })
  .openapi("CreateOrganizationRequest", { example: { name: "Acme Robotics", slug: "acme-robotics" } });

export type CreateOrgInput = z.infer<typeof CreateOrgSchema>;

export const UpdateOrgSchema = z
  .strictObject({
    name: OrgNameSchema.optional(),
    slug: SlugSchema.optional(),
    require_mfa: z.boolean().optional().openapi({
      description:
        "Owners only. `true`: members whose session was not signed in with a second factor get 403 `mfa_required` on this organization's routes. Turning it on needs your own session to have used one.",
    }),
  })
  .openapi("UpdateOrganizationRequest", { example: { name: "Acme Robotics Ltd" } });

export type UpdateOrgInput = z.infer<typeof UpdateOrgSchema>;

export const ListOrgsQuery = listQuery({ sort: ["created_at", "name"], defaultSort: "created_at" });

const orgIdParam = z.uuid().openapi({ param: { name: "org_id", in: "path" }, example: ORG_ID_EXAMPLE });

export const OrgIdParams = z.object({ org_id: orgIdParam });

export const MemberParams = z.object({
  org_id: orgIdParam,
  user_id: z.uuid().openapi({ param: { name: "user_id", in: "path" }, example: USER_ID_EXAMPLE }),
});

export const InvitationParams = z.object({
  org_id: orgIdParam,
  invitation_id: z
    .uuid()
    .openapi({ param: { name: "invitation_id", in: "path" }, example: INVITATION_ID_EXAMPLE }),
});

// ---------------------------------------------------------------------------
// Members

export const memberExample = {
  user_id: USER_ID_EXAMPLE,
  email: "ada@example.com",
  username: "ada_l",
  first_name: "Ada",
  last_name: "Lovelace",
  role: "admin",
  joined_at: "2026-11-02T10:00:00.000Z",
};

export const MemberSchema = z
  .object({
    user_id: z.uuid(),
    email: z.email(),
    username: z.string().nullable(),
    first_name: z.string(),
    last_name: z.string(),
    role: RoleSchema,
    joined_at: z.iso.datetime(),
  })
  .openapi("Member", { example: memberExample });

export type MemberDto = z.infer<typeof MemberSchema>;

export const MemberPageSchema = pageSchema(MemberSchema, "MemberPage");

export const ListMembersQuery = listQuery({
  sort: ["joined_at"],
  defaultSort: "joined_at",
  filters: { "filter[role]": RoleSchema },
});

export const UpdateMemberSchema = z
  .strictObject({ role: RoleSchema })
  .openapi("UpdateMemberRequest", { example: { role: "admin" } });

// ---------------------------------------------------------------------------
// Invitations

export const invitationStatuses = ["pending", "accepted", "expired", "revoked"] as const;

export const invitationExample = {
  id: INVITATION_ID_EXAMPLE,
  email: "grace@example.com",
  role: "member",
  status: "pending",
  invited_by: USER_ID_EXAMPLE,
  created_at: "2026-11-20T17:02:11.000Z",
  expires_at: "2026-11-27T17:02:11.000Z",
  accepted_at: null,
  revoked_at: null,
};

export const InvitationSchema = z
  .object({
    id: z.uuid(),
    email: z.email(),
    role: RoleSchema,
    status: z.enum(invitationStatuses),
    invited_by: z.uuid().nullable().openapi({ description: "Null once that account is deleted." }),
    created_at: z.iso.datetime(),
    expires_at: z.iso.datetime(),
    accepted_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
  })
  .openapi("Invitation", {
    description: "The token is never shown: it is only in the email (and the invitee's notification).",
    example: invitationExample,
  });

export type InvitationDto = z.infer<typeof InvitationSchema>;

export const InvitationPageSchema = pageSchema(InvitationSchema, "InvitationPage");

export const ListInvitationsQuery = listQuery({
  sort: ["created_at"],
  defaultSort: "-created_at",
  filters: { "filter[status]": z.enum(invitationStatuses) },
});

export const CreateInvitationSchema = z
  .strictObject({ email: EmailSchema, role: RoleSchema })
  .openapi("CreateInvitationRequest", { example: { email: "grace@example.com", role: "member" } });

export type CreateInvitationInput = z.infer<typeof CreateInvitationSchema>;

export const AcceptInvitationSchema = z
  .strictObject({
    token: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: "From the invitation email's link.", example: "inv_Q2hhbmdlIG1lIQ…" }),
  })
  .openapi("AcceptInvitationRequest");

export const MembershipSchema = z
  .object({ organization: OrgSchema, role: RoleSchema, joined_at: z.iso.datetime() })
  .openapi("Membership", {
    example: {
      organization: { ...orgExample, role: "member" },
      role: "member",
      joined_at: "2026-11-21T08:15:42.000Z",
    },
  });

export type MembershipDto = z.infer<typeof MembershipSchema>;
