/**
 * Outbound webhooks from tests. The receiver is faked at the `fetch` boundary
 * (`fakeReceiver`): each POST the Worker makes is recorded (URL, headers, the exact
 * body) and answered by the next of the test's answers. JOBS_QUEUE sends are held
 * (`holdJobsQueue` of ./tasks.ts), and `runWebhookJobs` hands the held `webhooks.*`
 * messages to the Worker's queue handler, as the queue would, returning their
 * `delaySeconds`. Time is moved with `vi.setSystemTime` (fake `Date` only).
 */
import { env } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { vi } from "vitest";
import { getDb } from "../../src/db/client";
import { webhookDeliveries, webhookEndpoints, webhookEvents } from "../../src/db/schema";
import type {
  DeliveryDetailDto,
  DeliveryDto,
  EndpointDto,
  EndpointWithSecretSchema,
} from "../../src/modules/webhooks/webhooks.schemas";
import { runQueueBatch } from "./background";
import { as, jsonOf, type Page } from "./http";
import { type HeldMessage, JOBS_QUEUE } from "./tasks";

export type { DeliveryDetailDto, DeliveryDto, EndpointDto };
export type EndpointWithSecret = z.infer<typeof EndpointWithSecretSchema>;

export const RECEIVER_URL = "https://hooks.receiver.example/edge";

export type ReceivedRequest = {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal?: AbortSignal;
};
export type Answer = (request: ReceivedRequest) => Response | Promise<Response>;

/** Answers every request with `status` (and an optional body). */
export const reply =
  (status: number, body = "", headers: Record<string, string> = {}): Answer =>
  () =>
    new Response(status === 204 || status === 304 ? null : body, { status, headers });

/** Never answers: the promise settles only when the request's signal aborts (the timeout). */
export const hang: Answer = (request) =>
  new Promise<Response>((_, reject) => {
    const signal = request.signal;
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });

/**
 * Replaces `fetch`: records each request and answers with the next of `answers` (the
 * last one again once they run out).
 */
export function fakeReceiver(...answers: Answer[]) {
  const requests: ReceivedRequest[] = [];
  let call = 0;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const received: ReceivedRequest = {
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body: await request.text(),
      signal: init?.signal ?? undefined,
    };
    requests.push(received);
    const answer = answers[Math.min(call++, answers.length - 1)];
    if (!answer) throw new Error("fakeReceiver needs at least one answer");
    return answer(received);
  });
  return { spy, requests, init: (i: number) => spy.mock.calls[i]?.[1] };
}

let sequence = 0;

/**
 * Runs the held `webhooks.*` messages through the Worker's queue handler (in the order
 * they were sent) and takes them out of `held`; returns each with its delaySeconds.
 */
export async function runWebhookJobs(held: HeldMessage[]) {
  const taken = held.filter((message) =>
    String((message.body as { type?: string }).type).startsWith("webhooks."),
  );
  for (const message of taken) held.splice(held.indexOf(message), 1);
  for (const message of taken) {
    await runQueueBatch(JOBS_QUEUE, [{ id: `webhook-msg-${++sequence}`, body: message.body }]);
  }
  return taken;
}

/** The held `webhooks.deliver` messages, in order. */
export const deliverMessages = (held: HeldMessage[]) =>
  held.filter((message) => (message.body as { type?: string }).type === "webhooks.deliver");

const db = () => getDb(env);

export const deliveryRow = (id: string) =>
  db().select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).get();
export const endpointRow = (id: string) =>
  db().select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get();
export const eventsOf = (organizationId: string) =>
  db().select().from(webhookEvents).where(eq(webhookEvents.organizationId, organizationId));

/** A client for one organization's webhook routes, bound to `token` (a person's JWT or an API key). */
export function webhooksClient(token: string, organizationId: string) {
  const client = as(token);
  const base = `/api/v1/orgs/${organizationId}/webhook-endpoints`;
  return {
    ...client,
    base,
    async create(body: Record<string, unknown>): Promise<EndpointWithSecret> {
      return jsonOf<EndpointWithSecret>(await client.post(base, { body }), 201);
    },
    async test(endpointId: string): Promise<DeliveryDto> {
      return jsonOf<DeliveryDto>(await client.post(`${base}/${endpointId}/test`), 202);
    },
    async deliveries(endpointId: string, query = ""): Promise<Page<DeliveryDto>> {
      return jsonOf<Page<DeliveryDto>>(await client.get(`${base}/${endpointId}/deliveries${query}`), 200);
    },
    async delivery(endpointId: string, deliveryId: string): Promise<DeliveryDetailDto> {
      return jsonOf<DeliveryDetailDto>(
        await client.get(`${base}/${endpointId}/deliveries/${deliveryId}`),
        200,
      );
    },
  };
}
