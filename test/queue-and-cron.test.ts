/** The queue consumer's generic behaviour and the cron runner. Later modules test their own message types. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isDeadLetterQueue, queueLabel, retryDelaySeconds } from "../src/jobs/consumer";
import { enqueue } from "../src/jobs/enqueue";
import type { MaintenanceJob } from "../src/jobs/maintenance-job";
import { dueJobs } from "../src/scheduled";
import wranglerToml from "../wrangler.toml?raw";
import { runCron, runQueueBatch } from "./support/background";

afterEach(() => vi.restoreAllMocks());

/** The queue handler's result on `bodies`, delivered once each as messages `msg-0`, `msg-1` ... */
async function consume(queue: string, bodies: unknown[]) {
  return (
    await runQueueBatch(
      queue,
      bodies.map((body, i) => ({ id: `msg-${i}`, body })),
    )
  ).result;
}

describe("queue consumer", () => {
  it("acknowledges a health ping", async () => {
    const result = await consume("edge-api-jobs", [
      { type: "health.ping", sent_at: new Date().toISOString(), request_id: "r-1" },
    ]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(result.retryMessages).toEqual([]);
  });

  it("acknowledges and logs a message no handler accepts, instead of retrying it forever", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const result = await consume("edge-api-jobs", [{ type: "no.such.type" }, "not even an object"]);
    expect(result.explicitAcks.sort()).toEqual(["msg-0", "msg-1"]);
    expect(result.retryMessages).toEqual([]);
    const lines = logged.mock.calls.map((call) => JSON.parse(String(call[0])));
    expect(lines.filter((line) => line.msg === "queue message rejected")).toHaveLength(2);
  });

  it("logs and acknowledges dead letters", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const result = await consume("edge-api-email-dlq", [{ type: "whatever", n: 1 }]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(JSON.parse(String(logged.mock.calls[0]?.[0]))).toMatchObject({
      msg: "dead letter",
      queue: "edge-api-email-dlq",
      body: { type: "whatever", n: 1 },
    });
  });

  it("recognises dead-letter queues in every environment", () => {
    expect(isDeadLetterQueue("edge-api-jobs-dlq")).toBe(true);
    expect(isDeadLetterQueue("edge-api-jobs-dlq-production")).toBe(true);
    expect(isDeadLetterQueue("edge-api-jobs")).toBe(false);
    expect(isDeadLetterQueue("edge-api-dlqueue")).toBe(false);
  });

  it("labels every queue wrangler.toml consumes with its own name in the metrics, any other as `other`", () => {
    const consumed = [...wranglerToml.matchAll(/queues\.consumers\]\]\nqueue = "([^"]+)"/g)].map(
      ([, queue]) => queue as string,
    );
    expect(consumed).toHaveLength(12); // jobs, email and their dead-letter queues, in three environments
    for (const queue of consumed) {
      expect(queueLabel(queue), queue).toBe(queue.replace(/-(staging|production)$/, ""));
    }
    expect(new Set(consumed.map(queueLabel)).size).toBe(4);
    for (const stranger of ["edge-api-jobs-canary", "edge-api", "jobs", "edge-api-jobs-dlq-dlq", ""]) {
      expect(queueLabel(stranger), stranger).toBe("other");
    }
  });

  it("backs off exponentially, capped at five minutes", () => {
    expect([1, 2, 3, 4, 8, 20].map(retryDelaySeconds)).toEqual([2, 4, 8, 16, 256, 300]);
  });

  it("refuses to send a message its consumer would reject", async () => {
    await expect(
      enqueue(env.JOBS_QUEUE, { type: "health.ping", sent_at: "yesterday", request_id: "r" }),
    ).rejects.toThrow();
  });
});

describe("cron", () => {
  const ran: string[] = [];
  const job = (name: string, everyMinutes: number, fail = false): MaintenanceJob => ({
    name,
    everyMinutes,
    run: async () => {
      ran.push(name);
      if (fail) throw new Error(`${name} broke`);
      return { removed: 0 };
    },
  });

  it("picks the jobs due at the scheduled minute", () => {
    const jobs = [job("every-minute", 1), job("hourly", 60), job("every-5", 5)];
    const atTopOfHour = Date.UTC(2026, 10, 21, 12, 0);
    expect(dueJobs(jobs, atTopOfHour).map((j) => j.name)).toEqual(["every-minute", "hourly", "every-5"]);
    expect(dueJobs(jobs, atTopOfHour + 5 * 60_000).map((j) => j.name)).toEqual(["every-minute", "every-5"]);
    expect(dueJobs(jobs, atTopOfHour + 7 * 60_000).map((j) => j.name)).toEqual(["every-minute"]);
  });

  it("runs every due job even when one fails, and logs the failure", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    ran.length = 0;
    const outcomes = await runCron(Date.UTC(2026, 10, 21, 12, 0), {
      jobs: [job("first", 1, true), job("second", 1)],
    });
    expect(ran).toEqual(["first", "second"]);
    expect(outcomes).toEqual([
      { job: "first", ok: false },
      { job: "second", ok: true, result: { removed: 0 } },
    ]);
    expect(JSON.parse(String(logged.mock.calls[0]?.[0]))).toMatchObject({
      msg: "maintenance job failed",
      job: "first",
    });
  });
});
