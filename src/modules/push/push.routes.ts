import { z } from "@hono/zod-openapi";
import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { requireUser } from "../../middleware/require";
import {
  CreatePushSubscriptionSchema,
  ListPushSubscriptionsQuery,
  PushSubscriptionIdParams,
  PushSubscriptionPageSchema,
  PushSubscriptionSchema,
  pushSubscriptionExample,
  VapidPublicKeySchema,
} from "./push.schemas";

const tags = ["Push notifications"];

const notConfigured = problemResponse(
  503,
  "The channel is not configured on this server (`push_not_configured`): VAPID_PRIVATE_KEY for Web Push, FCM_SERVICE_ACCOUNT for FCM.",
);

const location = z.object({
  Location: z.string().openapi({
    example: `/api/v1/users/me/push-subscriptions/${pushSubscriptionExample.id}`,
  }),
});

export const subscribe = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Register this device for push notifications",
  description: [
    'A browser posts its PushSubscription (`{ "type": "webpush", "endpoint", "keys": { "p256dh", "auth" } }`, subscribed with the key of GET /api/v1/notifications/push/vapid-public-key); an Android or iOS app posts its FCM registration token (`{ "type": "fcm", "token" }`).',
    "Registering the same endpoint or token again updates it (200) instead of adding a second device; a device registered by another account moves to yours, so a shared browser only shows the notifications of whoever signed in last. A device stays registered while the session that registered it lives: signing out stops its pushes. At most 20 devices per account: the least recently registered makes room.",
    "Which notifications are pushed follows your `notification_preferences` (`push` per type).",
    "The endpoint must be https on a public host (outside production, `http://localhost` or `http://127.0.0.1` too, for a local receiver).",
  ].join("\n\n"),
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: jsonRequestBody(CreatePushSubscriptionSchema) },
  responses: {
    201: {
      ...jsonContent(PushSubscriptionSchema, "A new device.", pushSubscriptionExample),
      headers: location,
    },
    200: {
      ...jsonContent(PushSubscriptionSchema, "A device registered before, updated.", pushSubscriptionExample),
      headers: location,
    },
    ...problemResponses(400, 401, 403),
    503: notConfigured,
  },
});

export const list = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "Your devices registered for push",
  description: "Newest first (`sort=created_at` for oldest first).",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { query: ListPushSubscriptionsQuery },
  responses: {
    200: jsonContent(PushSubscriptionPageSchema, "One page of devices.", {
      data: [pushSubscriptionExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400, 401, 403),
  },
});

export const remove = defineRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Stop pushing to a device",
  description:
    "Removes the device; it receives no further pushes (call it too when the user turns notifications off in your app).",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: PushSubscriptionIdParams },
  responses: {
    204: { description: "Removed." },
    ...problemResponses(400, 401, 403),
    404: problemResponse(404, "No such device, or it is someone else's."),
  },
});

export const vapidPublicKey = defineRoute({
  method: "get",
  path: "/vapid-public-key",
  tags,
  summary: "The VAPID public key browsers subscribe with",
  description:
    "Pass it (decoded from base64url to bytes) as `applicationServerKey` to `PushManager.subscribe()`. Public: no credentials needed.",
  responses: {
    200: jsonContent(VapidPublicKeySchema, "The key."),
    503: problemResponse(
      503,
      "Web Push is not configured: VAPID_PRIVATE_KEY is not set (`push_not_configured`).",
    ),
  },
});
