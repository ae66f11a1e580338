/**
 * The closing banner of `npm run dev`. Wrangler says "Ready" once it listens, but the first
 * request still waits for the Worker's first build; the banner waits for GET /health/live to
 * answer 200 and then says, in one place, where everything is.
 */
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** wrangler dev's default port, and the one `npm run dev` passes when the arguments name none. */
export const DEFAULT_PORT = 8787;

/** The port the arguments give wrangler dev (`--port 8788` or `--port=8788`), else the default. */
export function portFromArgs(args: readonly string[]): number {
  for (const [index, arg] of args.entries()) {
    const value = arg === "--port" ? args[index + 1] : arg.startsWith("--port=") ? arg.slice(7) : undefined;
    if (value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  return DEFAULT_PORT;
}

/**
 * Polls GET /health/live until it answers 200 (true), or until `stillRunning()` says wrangler
 * has exited (false). No time limit: after a build error wrangler waits for the fix, and the
 * banner then comes with the first successful build.
 */
export async function waitUntilLive(baseUrl: string, stillRunning: () => boolean): Promise<boolean> {
  while (stillRunning()) {
    try {
      const response = await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(30_000) });
      await response.arrayBuffer();
      if (response.status === 200) return true;
    } catch {
      // Not listening yet, or still building.
    }
    await sleep(500);
  }
  return false;
}

async function status(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return undefined;
  }
}

/** One line of a .dev.vars file (`NAME=value`), or undefined when absent or empty. */
export function readDevVar(path: string, name: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const line = readFileSync(path, "utf8")
    .split("\n")
    .find((each) => each.startsWith(`${name}=`));
  const value = line?.slice(name.length + 1).trim();
  return value ? value : undefined;
}

export type BannerInput = {
  baseUrl: string;
  staff: { email: string; password?: string };
  /** METRICS_TOKEN is set in .dev.vars: /metrics wants it as a Bearer token. */
  metricsTokenSet: boolean;
};

/** Asks the running Worker what is switched on (docs, mailbox) and prints the banner. */
export async function printBanner(input: BannerInput): Promise<void> {
  const { baseUrl } = input;
  const [docsOn, mailboxOn] = await Promise.all([
    status(`${baseUrl}/api/openapi.json`).then((code) => code === 200),
    status(`${baseUrl}/dev/mailbox.json?limit=1`).then((code) => code === 200),
  ]);
  const rows: Array<[string, string]> = [
    ["API", `${baseUrl}  (health: ${baseUrl}/health)`],
    ...((docsOn
      ? [
          ["Docs", `${baseUrl}/api/docs  (Swagger UI)`],
          ["", `${baseUrl}/api/redoc  (ReDoc)`],
          ["", `${baseUrl}/api/openapi.json`],
        ]
      : [["Docs", "off (API_DOCS_ENABLED=false)"]]) as Array<[string, string]>),
    mailboxOn
      ? ["Mailbox", `${baseUrl}/dev/mailbox  (JSON: ${baseUrl}/dev/mailbox.json)`]
      : ["Mailbox", "off (DEV_MAILBOX_ENABLED=false)"],
    [
      "Metrics",
      `${baseUrl}/metrics${input.metricsTokenSet ? "  (Authorization: Bearer <METRICS_TOKEN from .dev.vars>)" : ""}`,
    ],
    [
      "Staff user",
      input.staff.password
        ? `${input.staff.email}  password ${input.staff.password}  (shown once: keep it)`
        : `${input.staff.email}  (password shown when it was created; new one: npm run db:seed:local -- --reset-password)`,
    ],
    ["Demo data", "npm run db:seed:demo  (users, organizations, an API key, tasks, notifications, catalog)"],
  ];
  const line = "─".repeat(62);
  console.log(
    [
      "",
      `  ┌${line}`,
      "  │ Edge API Platform is running locally",
      "  │",
      ...rows.map(([label, value]) => `  │ ${label.padEnd(11)} ${value}`),
      `  └${line}`,
      "",
    ].join("\n"),
  );
}
