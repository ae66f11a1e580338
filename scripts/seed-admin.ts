/**
 * Seeds one staff user into the local D1 database and prints its password once.
 * Idempotent: an existing account is left alone unless --reset-password is given.
 *
 *   npm run db:seed:local                      # admin@example.com, or SEED_ADMIN_EMAIL
 *   npm run db:seed:local -- --reset-password  # new password for that account
 */
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashPassword } from "./lib/hash-password.ts";
import { sqlValue } from "./lib/sql.ts";
import { uuidv7At } from "./lib/uuidv7.ts";
import { d1Local } from "./lib/wrangler.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The staff account, and its password when this run set one (it is never stored in clear). */
export type SeededAdmin = { email: string; password?: string };

export async function seedAdmin(
  options: { email?: string; resetPassword?: boolean } = {},
): Promise<SeededAdmin> {
  const email = (options.email ?? process.env.SEED_ADMIN_EMAIL ?? "admin@example.com").trim().toLowerCase();
  const existing = d1Local(root, `SELECT id FROM users WHERE email = ${sqlValue(email)}`);
  if (existing.length > 0 && !options.resetPassword) {
    console.log(
      `seed: staff user ${email} already exists (new password: npm run db:seed:local -- --reset-password)`,
    );
    return { email };
  }
  const password = randomBytes(15).toString("base64url");
  const hash = await hashPassword(password);
  const now = Date.now();
  if (existing.length > 0) {
    d1Local(
      root,
      `UPDATE users SET password_hash = ${sqlValue(hash)}, updated_at = ${now} WHERE email = ${sqlValue(email)}`,
    );
  } else {
    const id = uuidv7At(now);
    d1Local(
      root,
      `INSERT INTO users (id, email, username, first_name, last_name, password_hash, email_verified_at, is_active, is_staff, created_at, updated_at)
       VALUES (${sqlValue(id)}, ${sqlValue(email)}, 'admin', 'Admin', '', ${sqlValue(hash)}, ${now}, 1, 1, ${now}, ${now})`,
    );
  }
  console.log("");
  console.log("  ┌──────────────────────────────────────────────────────────────");
  console.log(`  │ Staff user  ${email}`);
  console.log(`  │ Password    ${password}`);
  console.log("  │ Shown once: keep it, or reset with npm run db:seed:local -- --reset-password");
  console.log("  └──────────────────────────────────────────────────────────────");
  console.log("");
  return { email, password };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await seedAdmin({ resetPassword: process.argv.includes("--reset-password") });
}
