import { randomUUID } from "node:crypto";

/**
 * A UUIDv7 for a given time, the format src/lib/ids.ts makes in the Worker. Not that function:
 * it keeps the ids of one process increasing by moving a time earlier than the last one up to
 * the last one, and the seeds backdate rows in any order (a task two days ago after a
 * notification an hour ago), so each id here carries its own row's time.
 */
export function uuidv7At(ms: number): string {
  const hex = ms.toString(16).padStart(12, "0");
  const random = randomUUID().replaceAll("-", "");
  const variant = ((Number.parseInt(random[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${random.slice(13, 16)}-${variant}${random.slice(17, 20)}-${random.slice(20, 32)}`;
}
