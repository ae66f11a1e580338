import { defineRoute, jsonContent, problemResponses, SECURITY } from "../../lib/openapi";
import { memberExample } from "../orgs/orgs.schemas";
import { ADMIN_GUARD_RESPONSES, ADMIN_TAGS } from "./admin.openapi";
import {
  AdminOrgDetailSchema,
  AdminOrgPageSchema,
  adminOrgExample,
  ListOrgsQuery,
  OrgIdParams,
} from "./admin-orgs.schemas";

export const listOrganizations = defineRoute({
  method: "get",
  path: "/organizations",
  tags: ADMIN_TAGS,
  summary: "List every organization",
  description:
    "`q` matches a substring of the name or slug; `filter[is_personal]`; `sort=created_at,name` (default `-created_at`).",
  security: SECURITY.bearer,
  request: { query: ListOrgsQuery },
  responses: {
    200: jsonContent(AdminOrgPageSchema, "One page of organizations.", {
      data: [adminOrgExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const getOrganization = defineRoute({
  method: "get",
  path: "/organizations/{id}",
  tags: ADMIN_TAGS,
  summary: "Read an organization with its members",
  security: SECURITY.bearer,
  request: { params: OrgIdParams },
  responses: {
    200: jsonContent(AdminOrgDetailSchema, "The organization.", {
      ...adminOrgExample,
      members: [memberExample],
    }),
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
  },
});
