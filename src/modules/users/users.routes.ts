import { defineRoute, jsonContent, problemResponse, problemResponses, SECURITY } from "../../lib/openapi";
import { requireStaff, requireUser } from "../../middleware/require";
import {
  ListSessionsQuery,
  ListUsersQuery,
  SessionIdParams,
  SessionPageSchema,
  UpdateProfileSchema,
  UserIdParams,
  UserPageSchema,
  UserSchema,
  userExample,
} from "./users.schemas";

const tags = ["Users"];

export const getMe = defineRoute({
  method: "get",
  path: "/me",
  tags,
  summary: "Your profile",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    200: jsonContent(UserSchema, "Your profile.", userExample),
    ...problemResponses(401, 403),
  },
});

export const updateMe = defineRoute({
  method: "patch",
  path: "/me",
  tags,
  summary: "Update your profile",
  description:
    "Only the fields sent change. `null` clears `username`, `phone_number` and `birth_date`. `notification_preferences` is merged type by type and channel by channel. The email cannot be changed here.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: { content: { "application/json": { schema: UpdateProfileSchema } } } },
  responses: {
    200: jsonContent(UserSchema, "The updated profile.", userExample),
    409: problemResponse(409, "The username is taken (`username_taken`)."),
    ...problemResponses(400, 401, 403, 413, 415),
  },
});

export const deleteMe = defineRoute({
  method: "delete",
  path: "/me",
  tags,
  summary: "Delete your account",
  description:
    "Erases the account and everything only it owns. Every session is revoked first, so its access tokens stop working at once.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    204: { description: "Deleted." },
    ...problemResponses(401, 403),
  },
});

export const listMySessions = defineRoute({
  method: "get",
  path: "/me/sessions",
  tags,
  summary: "Your signed-in devices",
  description: "Live sessions (not revoked, not expired), most recently used first by default.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { query: ListSessionsQuery },
  responses: {
    200: jsonContent(SessionPageSchema, "One page of sessions."),
    ...problemResponses(400, 401, 403),
  },
});

export const revokeMySession = defineRoute({
  method: "delete",
  path: "/me/sessions/{id}",
  tags,
  summary: "Sign a device out",
  description:
    "Revokes one of your sessions; its access tokens are refused at once and its refresh token no longer works. Another user's session answers 404.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: SessionIdParams },
  responses: {
    204: { description: "Revoked." },
    ...problemResponses(400, 401, 403, 404),
  },
});

export const listUsers = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List users (staff)",
  description:
    "Search (`q`), filter and sort every account. Sorting is limited to columns that are never null (`created_at`, `email`) so cursors stay exact.",
  security: SECURITY.bearer,
  middleware: [requireStaff()],
  request: { query: ListUsersQuery },
  responses: {
    200: jsonContent(UserPageSchema, "One page of users."),
    ...problemResponses(400, 401, 403),
  },
});

export const getUser = defineRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Read a user (staff, or yourself)",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: UserIdParams },
  responses: {
    200: jsonContent(UserSchema, "The user.", userExample),
    ...problemResponses(400, 401, 403, 404),
  },
});
