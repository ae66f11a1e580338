/**
 * One FCM HTTP v1 send (Android, and iOS through FCM's APNs bridge):
 * `POST https://fcm.googleapis.com/v1/projects/{project_id}/messages:send` with a
 * Bearer token from fcm-access-token.ts. Errors name themselves in
 * `error.details[].errorCode`: UNREGISTERED (404), SENDER_ID_MISMATCH (403) and an
 * INVALID_ARGUMENT about the token mean the device is gone; QUOTA_EXCEEDED, UNAVAILABLE
 * and INTERNAL are retried; a 401 other than THIRD_PARTY_AUTH_ERROR is our token
 * expiring early: minted again and retried.
 * https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 */

import { FcmTokenError, fcmAccessToken, forgetFcmAccessToken } from "./fcm-access-token";
import type { FcmServiceAccount } from "./fcm-service-account";
import { fcmMessage, type PushContent } from "./push-content";
import { callPushService, type PushOutcome, retryAfterSeconds } from "./push-outcome";

export const FCM_API_BASE = "https://fcm.googleapis.com";

type FcmErrorBody = {
  error?: {
    code?: number;
    message?: string;
    status?: string;
    details?: Array<{ "@type"?: string; errorCode?: string; fieldViolations?: Array<{ field?: string }> }>;
  };
};

export async function sendFcm(
  account: FcmServiceAccount,
  token: string,
  content: PushContent,
): Promise<PushOutcome> {
  let accessToken: string;
  try {
    accessToken = await fcmAccessToken(account);
  } catch (error) {
    if (error instanceof FcmTokenError) return error.outcome;
    throw error;
  }
  const answer = await callPushService(`${FCM_API_BASE}/v1/projects/${account.project_id}/messages:send`, {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ message: fcmMessage(content, token) }),
  });
  if (!(answer instanceof Response)) return answer;
  if (answer.ok) {
    await answer.body?.cancel();
    return { result: "delivered" };
  }
  const body = ((await answer.json().catch(() => ({}))) ?? {}) as FcmErrorBody;
  const details = body.error?.details ?? [];
  const errorCode = details.find((detail) => detail.errorCode)?.errorCode ?? body.error?.status ?? "UNKNOWN";
  const reason = `${answer.status} ${errorCode}: ${body.error?.message ?? answer.statusText}`.slice(0, 300);
  const aboutToken = details.some((detail) =>
    (detail.fieldViolations ?? []).some((violation) => violation.field === "message.token"),
  );
  if (
    errorCode === "UNREGISTERED" ||
    errorCode === "SENDER_ID_MISMATCH" ||
    (errorCode === "INVALID_ARGUMENT" &&
      (aboutToken || /registration token/i.test(body.error?.message ?? "")))
  ) {
    return { result: "gone", status: answer.status, reason };
  }
  if (answer.status === 401 && errorCode !== "THIRD_PARTY_AUTH_ERROR") {
    forgetFcmAccessToken(account);
    return { result: "retry", status: answer.status, reason };
  }
  if (answer.status === 429 || answer.status >= 500) {
    return { result: "retry", status: answer.status, reason, retryAfterSeconds: retryAfterSeconds(answer) };
  }
  return { result: "failed", status: answer.status, reason };
}
