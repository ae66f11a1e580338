/**
 * Seeds one staff user into the local D1 database and prints its password once.
 * Idempotent: an existing account is left alone unless --reset-password is given.
 *
 *   npm run db:seed:local                      # admin@example.com, or SEED_ADMIN_EMAIL
 *   npm run db:seed:local -- --reset-password  # new password for that account
 */
import { randomBytes, randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashPassword } from "../src/lib/password.ts";
import { d1Local } from "./lib/wrangler.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;

export async function seedAdmin(options: { email?: string; resetPassword?: boolean } = {}): Promise<void> {
  const email = (options.email ?? process.env.SEED_ADMIN_EMAIL ?? "admin@example.com").trim().toLowerCase();
  const existing = d1Local(root, `SELECT id FROM users WHERE email = ${sqlString(email)}`);
  if (existing.length > 0 && !options.resetPassword) {
    console.log(
      `seed: staff user ${email} already exists (new password: npm run db:seed:local -- --reset-password)`,
    );
    return;
  }
  const password = randomBytes(15).toString("base64url");
  const hash = await hashPassword(password);
  const now = Date.now();
  if (existing.length > 0) {
    d1Local(
      root,
      `UPDATE users SET password_hash = ${sqlString(hash)}, updated_at = ${now} WHERE email = ${sqlString(email)}`,
    );
  } else {
    const id = uuidv7Like(now);
    d1Local(
      root,
      `INSERT INTO users (id, email, username, first_name, last_name, password_hash, email_verified_at, is_active, is_staff, created_at, updated_at)
       VALUES (${sqlString(id)}, ${sqlString(email)}, 'admin', 'Admin', '', ${sqlString(hash)}, ${now}, 1, 1, ${now}, ${now})`,
    );
  }
  console.log("");
  console.log("  ┌──────────────────────────────────────────────────────────────");
  console.log(`  │ Staff user  ${email}`);
  console.log(`  │ Password    ${password}`);
  console.log("  │ Shown once: keep it, or reset with npm run db:seed:local -- --reset-password");
  console.log("  └──────────────────────────────────────────────────────────────");
  console.log("");
}

/** A UUIDv7 (time-ordered) built from Node's random UUID, like src/lib/ids.ts makes in the Worker. */
function uuidv7Like(ms: number): string {
  const hex = ms.toString(16).padStart(12, "0");
  const random = randomUUID().replaceAll("-", "");
  const variant = ((Number.parseInt(random[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${random.slice(13, 16)}-${variant}${random.slice(17, 20)}-${random.slice(20, 32)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await seedAdmin({ resetPassword: process.argv.includes("--reset-password") });
}
