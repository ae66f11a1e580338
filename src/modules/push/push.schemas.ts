import { z } from "@hono/zod-openapi";
import { pushSubscriptionTypes } from "../../db/schema";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";

export const PUSH_SUBSCRIPTION_ID_EXAMPLE = "0193a1f4-1b2c-7d3e-8f4a-5b6c7d8e9f0a";
const ENDPOINT_EXAMPLE =
  "https://fcm.googleapis.com/fcm/send/dpH5lCsTSSM:APA91bHqjZxM0VImWWqDRN7U0a3AycjUf4O-byuxb_wJsKRaKvV_iKw56s16ekq6FUqoCF7k2nICUpd8fHPxVTgqLunFeVeB9lLCQZyohyAztTH8ZQL9WCxKpA6dvTG_TUIhQUFq_n";
const FCM_TOKEN_EXAMPLE =
  "fPq2-b3mRUOiZc0Ri9tW8k:APA91bH9nRz0kJ6ZJ8F3mVQ6yV1aZkq2H1a8bXg7fP0yKq9xR3wT5uS2vN4mL6oI8jH0gF2dE4cB6aZ8yX0wV2uT4sR6qP8oN0mL2kJ4iH6gF8eD0cB2aZ4y";

/** base64url as browsers give it (RFC 8291 §3.2): without padding, though some libraries add `=`. */
const base64urlBytes = (bytes: number, what: string) =>
  z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, `must be base64url (the browser's PushSubscription.toJSON() gives it)`)
    .refine((value) => decodedLength(value) === bytes, `must be ${what}: ${bytes} bytes, base64url-encoded`);

function decodedLength(value: string): number {
  const bare = value.replace(/=+$/, "");
  return Math.floor((bare.length * 3) / 4);
}

export const WebPushSubscriptionInput = z
  .strictObject({
    type: z.literal("webpush"),
    endpoint: z
      .url({ protocol: /^https?$/, error: "must be the subscription's endpoint URL" })
      .max(2048)
      .openapi({ example: ENDPOINT_EXAMPLE }),
    keys: z.strictObject({
      p256dh: base64urlBytes(65, "an uncompressed P-256 public key").openapi({
        example: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
      }),
      auth: base64urlBytes(16, "the subscription's auth secret").openapi({
        example: "tBHItJI5svbpez7KI4CCXg",
      }),
    }),
  })
  .openapi("WebPushSubscriptionRequest", {
    description: "A browser's PushSubscription: `endpoint` and `keys` of `subscription.toJSON()`.",
  });

export const FcmSubscriptionInput = z
  .strictObject({
    type: z.literal("fcm"),
    token: z
      .string()
      .min(32)
      .max(4096)
      .regex(/^[A-Za-z0-9_:.-]+$/, "must be an FCM registration token")
      .openapi({ example: FCM_TOKEN_EXAMPLE }),
  })
  .openapi("FcmSubscriptionRequest", {
    description: "An Android or iOS app's FCM registration token (`FirebaseMessaging.getToken()`).",
  });

export const CreatePushSubscriptionSchema = z
  .discriminatedUnion("type", [WebPushSubscriptionInput, FcmSubscriptionInput])
  .openapi("CreatePushSubscriptionRequest", {
    example: {
      type: "webpush",
      endpoint: ENDPOINT_EXAMPLE,
      keys: {
        p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        auth: "tBHItJI5svbpez7KI4CCXg",
      },
    },
  });

export type CreatePushSubscriptionInput = z.infer<typeof CreatePushSubscriptionSchema>;

export const pushSubscriptionExample = {
  id: PUSH_SUBSCRIPTION_ID_EXAMPLE,
  type: "webpush",
  endpoint: ENDPOINT_EXAMPLE,
  token: null,
  user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
  created_at: "2026-11-21T09:12:44.512Z",
  updated_at: "2026-11-21T09:12:44.512Z",
  last_delivered_at: "2026-11-21T10:02:13.006Z",
} as const;

export const PushSubscriptionSchema = z
  .object({
    id: z.uuid(),
    type: z.enum(pushSubscriptionTypes),
    endpoint: z.string().nullable().openapi({ description: "Web Push: the push service URL; null for FCM." }),
    token: z.string().nullable().openapi({ description: "FCM: the registration token; null for Web Push." }),
    user_agent: z.string().nullable().openapi({ description: "The User-Agent that registered the device." }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    last_delivered_at: z.iso
      .datetime()
      .nullable()
      .openapi({ description: "When a push service last accepted a notification for this device." }),
  })
  .openapi("PushSubscription", { example: pushSubscriptionExample });

export type PushSubscriptionDto = z.infer<typeof PushSubscriptionSchema>;

export const PushSubscriptionIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: PUSH_SUBSCRIPTION_ID_EXAMPLE }),
});

export const ListPushSubscriptionsQuery = listQuery({ sort: ["created_at"], defaultSort: "-created_at" });

export const PushSubscriptionPageSchema = pageSchema(PushSubscriptionSchema, "PushSubscriptionPage");

export const VapidPublicKeySchema = z
  .object({
    key: z.string().openapi({
      description:
        "The VAPID public key (uncompressed P-256 point, base64url): PushManager.subscribe's `applicationServerKey`.",
    }),
  })
  .openapi("VapidPublicKey", {
    example: {
      key: "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U",
    },
  });
