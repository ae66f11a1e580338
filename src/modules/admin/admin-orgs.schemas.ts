import { z } from "@hono/zod-openapi";
import { booleanFilter, listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { MemberSchema, memberExample, ORG_ID_EXAMPLE } from "../orgs/orgs.schemas";
import { USER_ID_EXAMPLE } from "../users/users.schemas";

export const adminOrgExample = {
  id: ORG_ID_EXAMPLE,
  name: "Acme Robotics",
  slug: "acme-robotics",
  is_personal: false,
  created_by: USER_ID_EXAMPLE,
  member_count: 12,
  created_at: "2026-11-01T09:30:00.000Z",
  updated_at: "2026-11-20T17:02:11.000Z",
};

export const AdminOrgSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    is_personal: z.boolean(),
    created_by: z.uuid().nullable().openapi({ description: "Null once the creator's account is erased." }),
    member_count: z.number().int(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("AdminOrganization", { example: adminOrgExample });

export type AdminOrgDto = z.infer<typeof AdminOrgSchema>;

export const MAX_MEMBERS_SHOWN = 100;

export const AdminOrgDetailSchema = AdminOrgSchema.extend({
  members: z.array(MemberSchema).openapi({
    description: `The first ${MAX_MEMBERS_SHOWN} members by join date; \`member_count\` has them all.`,
  }),
}).openapi("AdminOrganizationDetail", { example: { ...adminOrgExample, members: [memberExample] } });

export const OrgIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: ORG_ID_EXAMPLE }),
});

export const ListOrgsQuery = listQuery({
  sort: ["created_at", "name"],
  defaultSort: "-created_at",
  filters: { "filter[is_personal]": booleanFilter },
}).safeExtend({
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .openapi({
      param: { name: "q", in: "query" },
      description: "Case-insensitive substring of the name or slug.",
      example: "acme",
    }),
});

export const AdminOrgPageSchema = pageSchema(AdminOrgSchema, "AdminOrganizationPage");
