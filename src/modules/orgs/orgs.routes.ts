import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { requireOrgAccess, requireScopes, requireUser } from "../../middleware/require";
import { proofBody, REAUTHENTICATION_NOTE, tooManyWrongPasswords } from "../auth/reauthentication.schemas";
import {
  CreateOrgSchema,
  ListMembersQuery,
  ListOrgsQuery,
  MemberPageSchema,
  MemberParams,
  MemberSchema,
  memberExample,
  OrgIdParams,
  OrgPageSchema,
  OrgSchema,
  orgExample,
  UpdateMemberSchema,
  UpdateOrgSchema,
} from "./orgs.schemas";

const tags = ["Organizations"];

const notYours = problemResponse(404, "No such organization, or you are not in it.");

export const createOrg = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create an organization",
  description:
    "You become its `owner`. The slug is derived from the name when omitted (with a random suffix if that one is taken). People only: API keys get 403.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: jsonRequestBody(CreateOrgSchema) },
  responses: {
    201: {
      ...jsonContent(OrgSchema, "Created.", orgExample),
      headers: { Location: { description: "The new organization.", schema: { type: "string" } } },
    },
    409: problemResponse(409, "The slug is taken (`slug_taken`)."),
    ...problemResponses(400, 401, 403),
  },
});

export const listOrgs = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "Your organizations",
  description:
    "People: every organization you belong to, with your `role`. API keys (scope `org:read`): the key's own organization, with `role: null`.",
  security: SECURITY.bearerOrApiKey,
  middleware: [requireScopes("org:read")],
  request: { query: ListOrgsQuery },
  responses: {
    200: jsonContent(OrgPageSchema, "One page of organizations."),
    403: problemResponse(403, "An API key without `org:read` (`insufficient_scope`)."),
    ...problemResponses(400, 401),
  },
});

export const getOrg = defineRoute({
  method: "get",
  path: "/{org_id}",
  tags,
  summary: "Read an organization",
  description: "Any member; API keys of the organization with `org:read`.",
  security: SECURITY.bearerOrApiKey,
  middleware: [requireOrgAccess("org:read")],
  request: { params: OrgIdParams },
  responses: {
    200: jsonContent(OrgSchema, "The organization.", orgExample),
    403: problemResponse(403, "An API key without `org:read` (`insufficient_scope`)."),
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const updateOrg = defineRoute({
  method: "patch",
  path: "/{org_id}",
  tags,
  summary: "Rename an organization, change its slug or its MFA policy",
  description:
    "Owners and admins rename and change the slug; only owners change `require_mfa`, and turning it on needs the owner's own session to have used a second factor (else 403 `mfa_required`). Only the fields sent change.",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("org:update")],
  request: { params: OrgIdParams, body: jsonRequestBody(UpdateOrgSchema) },
  responses: {
    200: jsonContent(OrgSchema, "The updated organization.", orgExample),
    403: problemResponse(
      403,
      "Your role cannot change it (`forbidden`), the caller is an API key, or turning `require_mfa` on from a session without a second factor (`mfa_required`).",
    ),
    404: notYours,
    409: problemResponse(409, "The slug is taken (`slug_taken`)."),
    ...problemResponses(400, 401),
  },
});

export const deleteOrg = defineRoute({
  method: "delete",
  path: "/{org_id}",
  tags,
  summary: "Delete an organization",
  description: `Owners only. Deletes everything the organization owns: memberships, invitations, API keys (refused at once) and other modules' data. A personal organization goes only with its account (409). ${REAUTHENTICATION_NOTE}`,
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("org:delete")],
  request: {
    params: OrgIdParams,
    body: proofBody(),
  },
  responses: {
    204: { description: "Deleted." },
    403: problemResponse(
      403,
      "Not an owner, the caller is an API key, or no recent sign-in and no (or a wrong) proof (`reauthentication_required`).",
    ),
    404: notYours,
    409: problemResponse(409, "A personal organization (`personal_organization`)."),
    429: tooManyWrongPasswords(),
    ...problemResponses(400, 401, 413, 415),
  },
});

export const listMembers = defineRoute({
  method: "get",
  path: "/{org_id}/members",
  tags,
  summary: "Members and their roles",
  description: "Any member; API keys with `org:read`. Oldest first by default; `filter[role]`.",
  security: SECURITY.bearerOrApiKey,
  middleware: [requireOrgAccess("members:read")],
  request: { params: OrgIdParams, query: ListMembersQuery },
  responses: {
    200: jsonContent(MemberPageSchema, "One page of members."),
    403: problemResponse(403, "An API key without `org:read` (`insufficient_scope`)."),
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const updateMember = defineRoute({
  method: "patch",
  path: "/{org_id}/members/{user_id}",
  tags,
  summary: "Change a member's role",
  description:
    "Owners and admins; only an owner grants, changes or removes the `owner` role. The last owner cannot be demoted (409 `last_owner`).",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("members:manage")],
  request: { params: MemberParams, body: jsonRequestBody(UpdateMemberSchema) },
  responses: {
    200: jsonContent(MemberSchema, "The member with the new role.", memberExample),
    403: problemResponse(403, "Your role cannot do this, or the caller is an API key."),
    404: problemResponse(404, "No such organization or member."),
    409: problemResponse(409, "The last owner cannot be demoted (`last_owner`)."),
    ...problemResponses(400, 401),
  },
});

export const removeMember = defineRoute({
  method: "delete",
  path: "/{org_id}/members/{user_id}",
  tags,
  summary: "Remove a member, or leave",
  description:
    "Your own `user_id`: you leave (any role). Someone else: owners and admins; only an owner removes an owner. The last owner cannot leave (409 `last_owner`). API keys get 403.",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("members:read")],
  request: { params: MemberParams },
  responses: {
    204: { description: "Removed." },
    403: problemResponse(403, "Your role cannot remove this member, or the caller is an API key."),
    404: problemResponse(404, "No such organization or member."),
    409: problemResponse(409, "The last owner cannot leave (`last_owner`)."),
    ...problemResponses(400, 401),
  },
});
