/**
 * Structured JSON logs: one object per line, so Workers Logs / `wrangler tail`
 * can filter on any field. Every line of a request carries its request_id.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` as well. */
  child(fields: LogFields): Logger;
};

/** Errors do not survive JSON.stringify; keep their name, message and stack. */
export function serializeError(error: unknown): LogFields {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return { value: String(error) };
}

export function createLogger(level: LogLevel = "info", base: LogFields = {}): Logger {
  const threshold = LEVEL_RANK[level];
  const write = (lineLevel: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVEL_RANK[lineLevel] < threshold) return;
    const line = JSON.stringify({
      level: lineLevel,
      msg,
      time: new Date().toISOString(),
      ...base,
      ...fields,
    });
    if (lineLevel === "error") console.error(line);
    else if (lineLevel === "warn") console.warn(line);
    else console.log(line);
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger(level, { ...base, ...fields }),
  };
}
