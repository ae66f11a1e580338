/**
 * What the queue consumer (consumer.ts) hands every handler of a message type. The
 * types live apart from the consumer so that a module's handler does not import the
 * consumer that imports it back.
 */
import type { Bindings } from "../env";
import type { ServiceContext } from "../lib/context";
import type { Logger } from "../lib/logger";

export type QueueHandlerDeps = {
  /**
   * A context for this message: a `system` principal named after the message type (so logs
   * and audit rows say `system:task.run`), the request id the producer carried when it did,
   * and the message's logger.
   */
  ctx: ServiceContext;
  env: Bindings;
  logger: Logger;
  /** This delivery's number, from 1 (Cloudflare's `message.attempts`). */
  attempts: number;
  /** True when a failure now sends the message to the dead-letter queue instead of retrying it. */
  lastAttempt: boolean;
};

export type QueueHandler<M> = (message: M, deps: QueueHandlerDeps) => Promise<void>;
