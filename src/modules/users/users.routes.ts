import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { rateLimit } from "../../middleware/rate-limit";
import { requireStaff, requireUser } from "../../middleware/require";
import { proofBody, REAUTHENTICATION_NOTE, tooManyWrongPasswords } from "../auth/reauthentication.schemas";
import {
  ChangeEmailSchema,
  EmailChangeAcceptedSchema,
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
  description:
    "Like any read without `X-D1-Bookmark`, the profile may be a few seconds old when it was changed from another device (it may be served from the server's memory for up to 5 s, or by a read replica); this device's own changes show at once when it sends back the `X-D1-Bookmark` of the change's answer.",
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
  description: `Erases the account and everything only it owns. Every session is revoked first, so its access tokens stop working at once. ${REAUTHENTICATION_NOTE}`,
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: proofBody() },
  responses: {
    204: { description: "Deleted." },
    403: problemResponse(
      403,
      "Not a recent sign-in and no (or a wrong) proof (`reauthentication_required`, with `accepted_proofs`), or an API key.",
    ),
    429: tooManyWrongPasswords(),
    ...problemResponses(400, 401, 413, 415),
  },
});

export const changeEmail = defineRoute({
  method: "post",
  path: "/me/email",
  tags,
  summary: "Change your email address",
  description: `${REAUTHENTICATION_NOTE} Sends a confirmation link to the new address and a notice to the current one; the address changes only when the link is used (POST /api/v1/auth/email/change/confirm), and stays verified. The answer is the same whether or not the new address already has an account (then no link is sent). One request a minute (\`email_change_too_soon\`); the \`email_change\` rate-limit policy applies.`,
  security: SECURITY.bearer,
  middleware: [requireUser(), rateLimit("email_change")],
  request: { body: jsonRequestBody(ChangeEmailSchema) },
  responses: {
    202: jsonContent(EmailChangeAcceptedSchema, "The confirmation link is on its way to the new address.", {
      status: "confirmation_sent",
      expires_in: 86400,
    }),
    400: problemResponse(400, "A malformed address, or your current one (`validation_failed`)."),
    403: problemResponse(
      403,
      "Not a recent sign-in and no (or a wrong) proof (`reauthentication_required`).",
    ),
    429: problemResponse(
      429,
      "Less than a minute since the last request (`email_change_too_soon`), too many wrong passwords (`too_many_attempts`) or `rate_limited`.",
    ),
    ...problemResponses(401, 413, 415),
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
