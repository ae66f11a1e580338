/**
 * The seam email metrics hang on: every delivery attempt ends in exactly one event,
 * `sent` or `failed` (`final: true` when the queue will dead-letter the message next).
 * The metrics module subscribes with `onEmailEvent` and counts; delivery never waits
 * for a listener and never fails because of one.
 */
import type { Bindings } from "../env";
import { type Logger, serializeError } from "../lib/logger";
import type { EmailProviderName } from "./provider";
import type { EmailTemplateName } from "./templates";

type EventBase = {
  email_id: string;
  template: EmailTemplateName;
  provider: EmailProviderName;
  /** Delivery attempt this event ends, from 1. */
  attempts: number;
};

export type EmailEvent =
  | (EventBase & { outcome: "sent"; provider_message_id: string })
  | (EventBase & {
      outcome: "failed";
      /**
       * True when no further attempt follows: the last attempt (the message goes to the dead-letter
       * queue next), or a refusal the provider would repeat (bad key, rejected recipient), given up at once.
       */
      final: boolean;
      /** Provider error name (`rate_limit_exceeded`...) or the thrown error's name. */
      error_code: string;
      /** Provider HTTP status; null when there was no answer or the failure was ours. */
      status: number | null;
    });

export type EmailEventListener = (event: EmailEvent, env: Bindings) => void;

const listeners = new Set<EmailEventListener>();

/** Subscribes for the life of the isolate (or until the returned function is called). */
export function onEmailEvent(listener: EmailEventListener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

export function emitEmailEvent(event: EmailEvent, env: Bindings, logger: Logger): void {
  for (const listener of listeners) {
    try {
      listener(event, env);
    } catch (error) {
      logger.error("email event listener failed", { outcome: event.outcome, error: serializeError(error) });
    }
  }
}
