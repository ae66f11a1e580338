import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import {
  ListUsersQuery,
  UserIdParams,
  UserPageSchema,
  UserSchema,
  userExample,
} from "../users/users.schemas";
import { ADMIN_GUARD_RESPONSES, ADMIN_TAGS } from "./admin.openapi";
import {
  AdminUserSchema,
  adminUserExample,
  RevokedSessionsSchema,
  UpdateUserAccessSchema,
} from "./admin-users.schemas";

const tags = ADMIN_TAGS;
const security = SECURITY.bearer;
const selfModification = problemResponse(
  403,
  "Not staff (`forbidden`), or the change would disable, demote or delete your own account (`self_modification`).",
);

export const listUsers = defineRoute({
  method: "get",
  path: "/users",
  tags,
  summary: "List and search users",
  description:
    "`q` matches a substring of the email, username, first or last name (case-insensitive); `filter[is_staff]`, `filter[is_active]`, `filter[email_verified]`; `sort=created_at,email` (default `-created_at`).",
  security,
  request: { query: ListUsersQuery },
  responses: {
    200: jsonContent(UserPageSchema, "One page of users.", {
      data: [userExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const getUser = defineRoute({
  method: "get",
  path: "/users/{id}",
  tags,
  summary: "Read a user, with live sessions and memberships",
  security,
  request: { params: UserIdParams },
  responses: {
    200: jsonContent(AdminUserSchema, "The user.", adminUserExample),
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const updateUser = defineRoute({
  method: "patch",
  path: "/users/{id}",
  tags,
  summary: "Enable, disable, grant or remove staff",
  description:
    "Changing `is_active` or `is_staff` revokes every session of the account at once (`is_staff` is carried in access tokens; a disabled account must stop now). Sending the current values changes and records nothing. Audited as `user.update` with both flags before and after.",
  security,
  request: { params: UserIdParams, body: jsonRequestBody(UpdateUserAccessSchema) },
  responses: {
    200: jsonContent(UserSchema, "The user after the change.", { ...userExample, is_active: false }),
    ...problemResponses(400, 404, 413, 415),
    ...ADMIN_GUARD_RESPONSES,
    403: selfModification,
  },
});

export const revokeUserSessions = defineRoute({
  method: "post",
  path: "/users/{id}/revoke-sessions",
  tags,
  summary: "Sign a user out of every device",
  description:
    "Every session is revoked: refresh tokens stop working and access tokens are refused at once. Audited as `user.sessions_revoke`.",
  security,
  request: { params: UserIdParams },
  responses: {
    200: jsonContent(RevokedSessionsSchema, "How many sessions were revoked.", { revoked_sessions: 3 }),
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const deleteUser = defineRoute({
  method: "delete",
  path: "/users/{id}",
  tags,
  summary: "Erase a user",
  description:
    "Erases the account as DELETE /api/v1/users/me would: sessions, avatar, memberships, personal organization, tasks, notifications. Audited as `user.delete` (the audit row keeps the id and account flags, not the email or names).",
  security,
  request: { params: UserIdParams },
  responses: {
    204: { description: "Erased." },
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
    403: selfModification,
  },
});
