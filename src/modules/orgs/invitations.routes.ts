import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { requireOrgAccess, requireVerifiedEmail } from "../../middleware/require";
import {
  AcceptInvitationSchema,
  CreateInvitationSchema,
  InvitationPageSchema,
  InvitationParams,
  InvitationSchema,
  invitationExample,
  ListInvitationsQuery,
  MembershipSchema,
  OrgIdParams,
} from "./orgs.schemas";

const tags = ["Invitations"];
const managers = problemResponse(403, "Only owners and admins manage invitations; API keys cannot.");
const notYours = problemResponse(404, "No such organization or invitation, or you are not in it.");

export const createInvitation = defineRoute({
  method: "post",
  path: "/{org_id}/invitations",
  tags,
  summary: "Invite someone by email",
  description:
    "Owners and admins (only owners invite owners). Emails a link valid for 7 days, usable once; when the address already has an account, that user also gets an in-app notification. Inviting an address again replaces its open invitation (the old link stops working). Only an account with a verified address invites (403 `email_not_verified`), and an organization sends at most INVITATIONS_PER_ORG_PER_DAY (default 50) in any 24 hours, re-sends included (429 `invitation_limit_reached` with `Retry-After`). The inviter's and the organization's names reach the email as plain text of at most 60 characters.",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("invitations:manage")],
  request: { params: OrgIdParams, body: jsonRequestBody(CreateInvitationSchema) },
  responses: {
    201: {
      ...jsonContent(InvitationSchema, "Invited; the email is on its way.", invitationExample),
      headers: { Location: { description: "The invitation.", schema: { type: "string" } } },
    },
    403: problemResponse(
      403,
      "Only owners and admins manage invitations; API keys cannot. An unverified inviter (`email_not_verified`).",
    ),
    404: notYours,
    409: problemResponse(409, "The address belongs to a member already (`already_member`)."),
    429: problemResponse(
      429,
      "The organization's daily invitations are used up (`invitation_limit_reached`).",
    ),
    ...problemResponses(400, 401),
  },
});

export const listInvitations = defineRoute({
  method: "get",
  path: "/{org_id}/invitations",
  tags,
  summary: "Invitations of an organization",
  description:
    "Owners and admins. Newest first; `filter[status]` is `pending`, `accepted`, `expired` or `revoked`.",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("invitations:manage")],
  request: { params: OrgIdParams, query: ListInvitationsQuery },
  responses: {
    200: jsonContent(InvitationPageSchema, "One page of invitations."),
    403: managers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const getInvitation = defineRoute({
  method: "get",
  path: "/{org_id}/invitations/{invitation_id}",
  tags,
  summary: "Read an invitation",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("invitations:manage")],
  request: { params: InvitationParams },
  responses: {
    200: jsonContent(InvitationSchema, "The invitation.", invitationExample),
    403: managers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const revokeInvitation = defineRoute({
  method: "delete",
  path: "/{org_id}/invitations/{invitation_id}",
  tags,
  summary: "Revoke an invitation",
  description: "Its link stops working. Revoking a revoked invitation is a no-op; an accepted one is 409.",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("invitations:manage")],
  request: { params: InvitationParams },
  responses: {
    204: { description: "Revoked." },
    403: managers,
    404: notYours,
    409: problemResponse(409, "Already accepted (`invitation_not_pending`)."),
    ...problemResponses(400, 401),
  },
});

export const acceptInvitation = defineRoute({
  method: "post",
  path: "/accept",
  tags,
  summary: "Accept an invitation",
  description:
    "Signed-in people whose **verified** email is the invited address. The token comes from the email's link. It works once: presenting it again is a 400 and never adds a second membership.",
  security: SECURITY.bearer,
  middleware: [requireVerifiedEmail()],
  request: { body: jsonRequestBody(AcceptInvitationSchema) },
  responses: {
    200: jsonContent(MembershipSchema, "You are a member now."),
    400: problemResponse(
      400,
      "The token is unknown or revoked (`invitation_invalid`), already used (`invitation_used`) or expired (`invitation_expired`), or the body is invalid.",
    ),
    403: problemResponse(
      403,
      "Your email is not verified (`email_not_verified`), the invitation is for another address (`invitation_email_mismatch`), or the caller is an API key.",
    ),
    409: problemResponse(409, "You are a member of that organization already (`already_member`)."),
    ...problemResponses(401),
  },
});
