/**
 * WebSocket clients for tests: the upgrade goes through the Worker's own fetch handler,
 * exactly as a client's would, and every frame the server sends is kept in order so a
 * test can wait for the next one (or assert that none arrived).
 */
import { exports } from "cloudflare:workers";
import type { Bindings } from "../../src/env";
import type { ServerMessage } from "../../src/modules/notifications/notification-hub.protocol";
import { apiWith, testIp } from "./http";

export type TestSocket = {
  ws: WebSocket;
  /** Every frame received so far, parsed. */
  received: ServerMessage[];
  /** The next frame not yet taken (optionally of one type; frames of other types are skipped and kept). */
  next<T extends ServerMessage["type"]>(
    type?: T,
    timeoutMs?: number,
  ): Promise<Extract<ServerMessage, { type: T }>>;
  /** Resolves with the close event when the server closes the socket. */
  closed: Promise<CloseEvent>;
  send(frame: string | ArrayBuffer): void;
  close(): void;
};

export const WS_PATH = "/api/v1/notifications/ws";

export type UpgradeOptions = {
  token?: string;
  headers?: Record<string, string>;
  /** Settings of the Worker for this upgrade only (apiWith): e.g. NOTIFICATIONS_MAX_SOCKETS_PER_USER. */
  vars?: Partial<Bindings>;
};

/** GET /ws as an upgrade; returns the raw response (for refusals) and, on 101, the socket. */
export async function upgrade(query = "", options: UpgradeOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  if (!headers.has("upgrade")) headers.set("upgrade", "websocket");
  headers.set("cf-connecting-ip", testIp());
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  if (options.vars) {
    return apiWith(options.vars, "GET", `${WS_PATH}${query}`, { headers: Object.fromEntries(headers) });
  }
  return exports.default.fetch(`http://localhost${WS_PATH}${query}`, { headers });
}

export async function openSocket(query = "", options: UpgradeOptions = {}): Promise<TestSocket> {
  const res = await upgrade(query, options);
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) {
    throw new Error(`expected 101 with a socket, got ${res.status}: ${(await res.text()).slice(0, 300)}`);
  }
  ws.accept();
  const received: ServerMessage[] = [];
  let cursor = 0;
  const waiters = new Set<() => void>();
  ws.addEventListener("message", (event) => {
    received.push(JSON.parse(String(event.data)) as ServerMessage);
    for (const wake of waiters) wake();
  });
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  const taken = new Set<number>();

  function take(type?: string): ServerMessage | undefined {
    for (let i = cursor; i < received.length; i++) {
      if (taken.has(i)) continue;
      const message = received[i] as ServerMessage;
      if (type === undefined || message.type === type) {
        taken.add(i);
        while (taken.has(cursor)) cursor += 1;
        return message;
      }
    }
    return undefined;
  }

  return {
    ws,
    received,
    closed,
    next(type, timeoutMs = 3_000) {
      return new Promise((resolve, reject) => {
        const found = take(type);
        if (found) return resolve(found as never);
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${type ?? "frame"} within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
        }, timeoutMs);
        function check() {
          const message = take(type);
          if (!message) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(message as never);
        }
        waiters.add(check);
      });
    },
    send: (frame) => ws.send(frame),
    close: () => ws.close(1000, "test done"),
  };
}
