/**
 * `npm run db:seed:demo`: realistic data in the LOCAL D1 database (the one `npm run dev` uses),
 * to try the API by hand: six people who sign in with one known password, two organizations
 * with a member in every role, API keys (one printed, usable at once), tasks in every status,
 * read and unread notifications, and a catalog of categories and products.
 *
 *   npm run db:seed:demo                   # creates what is missing; a second run creates nothing
 *   npm run db:seed:demo -- --new-api-key  # a new secret for the demo API key (the old one stops working)
 *
 * Rows are written as the services write them (scripts/lib/demo-data.ts says what): passwords
 * hashed by src/lib/password.ts, keys made by src/modules/api-keys/key-format.ts and stored as
 * their SHA-256, prices split by src/modules/catalog/money.ts. Each step is one
 * `wrangler d1 execute --file`, all of it or nothing; what exists (by email, slug, name or
 * title) is left as it is and reported.
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { displayPrefix, generateApiKey } from "../src/modules/api-keys/key-format.ts";
import { parsePrice } from "../src/modules/catalog/money.ts";
import {
  CATEGORIES,
  DEMO_API_KEY,
  DEMO_PASSWORD,
  type DemoPerson,
  MAIN_ORG_SLUG,
  MAIN_PERSON,
  NOTIFICATIONS,
  ORGANIZATIONS,
  OTHER_API_KEYS,
  PENDING_RUN_IN_DAYS,
  PEOPLE,
  type PersonKey,
  personalOrg,
  TASKS,
} from "./lib/demo-data.ts";
import { hashPassword } from "./lib/hash-password.ts";
import { insertRow, type SqlValue, sqlList, sqlValue } from "./lib/sql.ts";
import { uuidv7At } from "./lib/uuidv7.ts";
import { d1Local, d1LocalFile, runWrangler } from "./lib/wrangler.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Every demo row is dated relative to now, so the data looks recent whenever it is seeded. */
const now = Date.now();

type StepReport = { created: string[]; existed: string[]; statements: string[] };
const newStep = (): StepReport => ({ created: [], existed: [], statements: [] });

/** Writes the step's rows (one batch) and prints its progress line. */
function finishStep(label: string, step: StepReport): void {
  d1LocalFile(root, step.statements);
  const parts = [
    step.created.length > 0 ? `created ${step.created.join(", ")}` : "",
    step.existed.length > 0 ? `already existed: ${step.existed.join(", ")}` : "",
  ].filter(Boolean);
  console.log(`demo: ${label.padEnd(14)} ${parts.join("; ") || "nothing to do"}`);
}

/** What the database already holds, as `kind:key` → value, read in one wrangler call. */
function readExisting(): Map<string, string> {
  const emails = sqlList(PEOPLE.map((person) => person.email));
  const demoUsers = `(SELECT id FROM users WHERE email IN ${emails})`;
  const slugs = sqlList([
    ...ORGANIZATIONS.map((org) => org.slug),
    ...PEOPLE.map((person) => personalOrg(person).slug),
  ]);
  const demoOrgs = `(SELECT id FROM organizations WHERE slug IN ${slugs})`;
  const mainOrg = `(SELECT id FROM organizations WHERE slug = ${sqlValue(MAIN_ORG_SLUG)})`;
  // One statement per lookup, run together: D1 caps the terms of a compound SELECT (no long UNION).
  const lookup = (kind: string, key: string, value: string, from: string) =>
    `SELECT '${kind}' AS kind, ${key} AS k, ${value} AS v FROM ${from}`;
  const rows = d1Local(
    root,
    [
      lookup("user", "email", "id", `users WHERE email IN ${emails}`),
      lookup(
        "username",
        "lower(username)",
        "id",
        `users WHERE lower(username) IN ${sqlList(PEOPLE.map((person) => person.username))}`,
      ),
      lookup("org", "slug", "id", `organizations WHERE slug IN ${slugs}`),
      lookup(
        "member",
        "organization_id || ' ' || user_id",
        "role",
        `memberships WHERE organization_id IN ${demoOrgs}`,
      ),
      lookup("api_key", "name", "id", `api_keys WHERE organization_id = ${mainOrg}`),
      lookup(
        "api_key_live",
        "name",
        "id",
        `api_keys WHERE organization_id = ${mainOrg} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now})`,
      ),
      lookup("category", "slug", "id", `categories WHERE slug IN ${sqlList(CATEGORIES.map((c) => c.slug))}`),
      lookup(
        "category_name",
        "lower(name)",
        "id",
        `categories WHERE lower(name) IN ${sqlList(CATEGORIES.map((c) => c.name.toLowerCase()))}`,
      ),
      lookup("product", "name", "id", `products WHERE created_by IN ${demoUsers}`),
      lookup(
        "task",
        "coalesce(organization_id, owner_user_id) || ' ' || status",
        "id",
        `tasks WHERE organization_id = ${mainOrg} OR owner_user_id IN ${demoUsers}`,
      ),
      lookup("notification", "user_id || ' ' || title", "id", `notifications WHERE user_id IN ${demoUsers}`),
    ].join("; "),
  );
  const existing = new Map<string, string>();
  for (const row of rows) existing.set(`${row.kind}:${row.k}`, String(row.v));
  return existing;
}

const fullName = (person: DemoPerson) => `${person.first} ${person.last}`;

async function seedUsers(existing: Map<string, string>): Promise<Map<PersonKey, string>> {
  const step = newStep();
  const ids = new Map<PersonKey, string>();
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  for (const [index, person] of PEOPLE.entries()) {
    const createdAt = now - 30 * DAY + index * HOUR;
    let userId = existing.get(`user:${person.email}`);
    if (userId) {
      step.existed.push(fullName(person));
    } else {
      userId = uuidv7At(createdAt);
      // Someone else may hold the username already (it is unique in any letter case): go without.
      const usernameTaken = existing.has(`username:${person.username}`);
      step.statements.push(
        insertRow("users", {
          id: userId,
          email: person.email,
          username: usernameTaken ? null : person.username,
          first_name: person.first,
          last_name: person.last,
          password_hash: passwordHash,
          email_verified_at: createdAt + 5 * MINUTE,
          is_active: true,
          is_staff: false,
          created_at: createdAt,
          updated_at: createdAt,
        }),
      );
      step.created.push(fullName(person));
    }
    ids.set(person.key, userId);
    // A new account gets its own organization, as the sign-up hook in src/modules/orgs/orgs.index.ts
    // does; an existing one already has it (both were written in one batch).
    const personal = personalOrg(person);
    if (step.created.includes(fullName(person)) && !existing.has(`org:${personal.slug}`)) {
      const orgId = uuidv7At(createdAt + 1);
      step.statements.push(
        insertRow("organizations", {
          id: orgId,
          name: personal.name,
          slug: personal.slug,
          is_personal: true,
          created_by: userId,
          created_at: createdAt + 1,
          updated_at: createdAt + 1,
        }),
        insertRow("memberships", {
          organization_id: orgId,
          user_id: userId,
          role: "owner",
          created_at: createdAt + 1,
          updated_at: createdAt + 1,
        }),
      );
    }
  }
  finishStep("users", step);
  return ids;
}

function seedOrganizations(
  existing: Map<string, string>,
  users: Map<PersonKey, string>,
): Map<string, string> {
  const step = newStep();
  const ids = new Map<string, string>();
  for (const [index, org] of ORGANIZATIONS.entries()) {
    const createdAt = now - 28 * DAY + index * HOUR;
    const members = Object.entries(org.members) as Array<[PersonKey, string]>;
    const ownerKey = members.find(([, role]) => role === "owner")?.[0] as PersonKey;
    let orgId = existing.get(`org:${org.slug}`);
    let added = 0;
    if (!orgId) {
      orgId = uuidv7At(createdAt);
      step.statements.push(
        insertRow("organizations", {
          id: orgId,
          name: org.name,
          slug: org.slug,
          is_personal: false,
          created_by: users.get(ownerKey) ?? null,
          created_at: createdAt,
          updated_at: createdAt,
        }),
      );
    }
    ids.set(org.slug, orgId);
    for (const [offset, [key, role]] of members.entries()) {
      const userId = users.get(key) as string;
      if (existing.has(`member:${orgId} ${userId}`)) continue;
      const joinedAt = createdAt + offset * DAY;
      step.statements.push(
        insertRow("memberships", {
          organization_id: orgId,
          user_id: userId,
          role,
          created_at: joinedAt,
          updated_at: joinedAt,
        }),
      );
      added += 1;
    }
    const roles = members.map(([key, role]) => `${key} ${role}`).join(", ");
    if (!existing.has(`org:${org.slug}`)) step.created.push(`${org.name} (${roles})`);
    else if (added > 0) step.created.push(`${added} missing members of ${org.name}`);
    else step.existed.push(`${org.name} with its ${members.length} members`);
  }
  finishStep("organizations", step);
  return ids;
}

type NewSecret = { secret: string; secretHash: string; prefix: string };

function newSecret(): NewSecret {
  // `test` keys, as the API itself gives outside production (modeFor in api-keys.service.ts),
  // stored as the hex SHA-256 that sha256Hex() in src/lib/crypto.ts computes at lookup.
  const secret = generateApiKey("test");
  return {
    secret,
    secretHash: createHash("sha256").update(secret).digest("hex"),
    prefix: displayPrefix(secret),
  };
}

/** The printed key's secret, when this run made one; existing secrets are never readable again. */
function seedApiKeys(
  existing: Map<string, string>,
  orgs: Map<string, string>,
  users: Map<PersonKey, string>,
  options: { newSecret: boolean },
): string | undefined {
  const step = newStep();
  const orgId = orgs.get(MAIN_ORG_SLUG) as string;
  const ownerId = users.get(MAIN_PERSON) as string;
  const createdAt = now - 20 * DAY;
  let printed: string | undefined;

  const liveId = existing.get(`api_key_live:${DEMO_API_KEY.name}`);
  if (liveId && options.newSecret) {
    // As POST …/api-keys/{id}/rotate with no grace period: the old secret stops working now.
    const fresh = newSecret();
    step.statements.push(
      `UPDATE api_key_secrets SET expires_at = ${now} WHERE key_id = ${sqlValue(liveId)} AND (expires_at IS NULL OR expires_at > ${now});`,
      insertRow("api_key_secrets", { secret_hash: fresh.secretHash, key_id: liveId, created_at: now }),
      `UPDATE api_keys SET prefix = ${sqlValue(fresh.prefix)}, updated_at = ${now} WHERE id = ${sqlValue(liveId)};`,
    );
    step.created.push(`a new secret for "${DEMO_API_KEY.name}"`);
    printed = fresh.secret;
  } else if (liveId) {
    step.existed.push(
      `"${DEMO_API_KEY.name}" (its secret was printed when it was made; --new-api-key for another)`,
    );
  } else {
    const fresh = newSecret();
    const keyId = uuidv7At(createdAt);
    step.statements.push(
      insertRow("api_keys", {
        id: keyId,
        organization_id: orgId,
        name: DEMO_API_KEY.name,
        mode: "test",
        prefix: fresh.prefix,
        scopes: DEMO_API_KEY.scopes,
        created_by: ownerId,
        created_at: createdAt,
        updated_at: createdAt,
      }),
      insertRow("api_key_secrets", { secret_hash: fresh.secretHash, key_id: keyId, created_at: createdAt }),
    );
    step.created.push(`"${DEMO_API_KEY.name}"`);
    printed = fresh.secret;
  }

  for (const [index, key] of OTHER_API_KEYS.entries()) {
    if (existing.has(`api_key:${key.name}`)) {
      step.existed.push(`"${key.name}"`);
      continue;
    }
    const at = createdAt + (index + 1) * DAY;
    const fresh = newSecret();
    const keyId = uuidv7At(at);
    step.statements.push(
      insertRow("api_keys", {
        id: keyId,
        organization_id: orgId,
        name: key.name,
        mode: "test",
        prefix: fresh.prefix,
        scopes: key.scopes,
        created_by: ownerId,
        created_at: at,
        updated_at: at,
        expires_at: key.expiresInDays === null ? null : now + key.expiresInDays * DAY,
        revoked_at: key.revoked ? at + 2 * DAY : null,
      }),
      insertRow("api_key_secrets", { secret_hash: fresh.secretHash, key_id: keyId, created_at: at }),
    );
    step.created.push(`"${key.name}"${key.revoked ? " (revoked)" : ""}`);
  }
  finishStep("API keys", step);
  return printed;
}

function seedCatalog(existing: Map<string, string>, users: Map<PersonKey, string>): void {
  const step = newStep();
  const creators = PEOPLE.map((person) => users.get(person.key) as string);
  let products = 0;
  let existingProducts = 0;
  for (const [index, category] of CATEGORIES.entries()) {
    const createdAt = now - 15 * DAY + index * HOUR;
    let categoryId =
      existing.get(`category:${category.slug}`) ??
      existing.get(`category_name:${category.name.toLowerCase()}`);
    if (categoryId) {
      step.existed.push(category.name);
    } else {
      categoryId = uuidv7At(createdAt);
      step.statements.push(
        insertRow("categories", {
          id: categoryId,
          name: category.name,
          slug: category.slug,
          description: category.description,
          created_at: createdAt,
          updated_at: createdAt,
        }),
      );
      step.created.push(category.name);
    }
    for (const [offset, product] of category.products.entries()) {
      if (existing.has(`product:${product.name}`)) {
        existingProducts += 1;
        continue;
      }
      const price = parsePrice(product.price, product.currency);
      if ("error" in price) throw new Error(`demo product "${product.name}": ${price.error}`);
      const at = now - 14 * DAY + (index * 4 + offset) * HOUR;
      step.statements.push(
        insertRow("products", {
          id: uuidv7At(at),
          name: product.name,
          description: product.description,
          price_minor: price.priceMinor,
          currency: product.currency,
          price_thousandths: price.priceThousandths,
          category_id: categoryId,
          created_by: creators[(index + offset) % creators.length] as string,
          created_at: at,
          updated_at: at,
        }),
      );
      products += 1;
    }
  }
  if (products > 0) step.created.push(`${products} products`);
  if (existingProducts > 0) step.existed.push(`${existingProducts} products`);
  finishStep("catalog", step);
}

function seedTasks(
  existing: Map<string, string>,
  orgs: Map<string, string>,
  users: Map<PersonKey, string>,
): void {
  const step = newStep();
  const owners = [
    { label: ORGANIZATIONS[0].name, column: "organization_id", id: orgs.get(MAIN_ORG_SLUG) as string },
    { label: "Maya Patel", column: "owner_user_id", id: users.get(MAIN_PERSON) as string },
  ] as const;
  for (const owner of owners) {
    const created: string[] = [];
    const existed: string[] = [];
    for (const task of TASKS) {
      // One task per status and owner is the goal: a status the owner's tasks already show is left be.
      if (existing.has(`task:${owner.id} ${task.status}`)) {
        existed.push(task.status);
        continue;
      }
      const createdAt = now - task.createdMinutesAgo * MINUTE;
      const startedAt = task.attempts > 0 ? createdAt + 2_000 : null;
      const finished = task.status === "SUCCESS" || task.status === "FAILURE" || task.status === "REVOKED";
      const pending = task.status === "PENDING";
      step.statements.push(
        insertRow("tasks", {
          id: uuidv7At(createdAt),
          [owner.column]: owner.id,
          type: task.type,
          status: task.status,
          payload: task.payload,
          result: (task.result ?? null) as SqlValue,
          error: task.error ?? null,
          progress: task.progress,
          attempts: task.attempts,
          max_retries: 3,
          // A scheduled run next week, and no queue message yet: nothing starts it while you look.
          run_at: pending ? now + PENDING_RUN_IN_DAYS * DAY : createdAt,
          enqueued_at: pending ? null : createdAt,
          // The sleep type's time limit (660 s) plus the runner's grace (30 s), as claim() sets it.
          lease_expires_at: task.status === "STARTED" && startedAt ? startedAt + 690_000 : null,
          dead_lettered: false,
          created_at: createdAt,
          started_at: startedAt,
          completed_at: finished ? (startedAt ?? createdAt) + 3_000 : null,
          updated_at: finished ? (startedAt ?? createdAt) + 3_000 : (startedAt ?? createdAt),
        }),
      );
      created.push(task.status);
    }
    if (created.length > 0) step.created.push(`${owner.label} ${created.join("/")}`);
    if (existed.length > 0) step.existed.push(`${owner.label} ${existed.join("/")}`);
  }
  finishStep("tasks", step);
}

function seedNotifications(existing: Map<string, string>, users: Map<PersonKey, string>): void {
  const step = newStep();
  for (const notification of NOTIFICATIONS) {
    const userId = users.get(notification.to) as string;
    const what = `${notification.to}: ${notification.read ? "read" : "unread"} ${notification.type}`;
    if (existing.has(`notification:${userId} ${notification.title}`)) {
      step.existed.push(what);
      continue;
    }
    const createdAt = now - notification.hoursAgo * HOUR;
    step.statements.push(
      insertRow("notifications", {
        id: uuidv7At(createdAt),
        user_id: userId,
        type: notification.type,
        title: notification.title,
        message: notification.message,
        target_url: notification.target_url,
        data: {},
        read_at: notification.read ? createdAt + 20 * MINUTE : null,
        created_at: createdAt,
      }),
    );
    step.created.push(what);
  }
  finishStep("notifications", step);
}

function printSummary(input: { mainOrgId: string; apiKey?: string }): void {
  const main = PEOPLE.find((person) => person.key === MAIN_PERSON) as DemoPerson;
  const line = "─".repeat(62);
  const rows = [
    `Demo data is in the local D1 database (npm run dev serves it).`,
    "",
    `Sign in     ${main.email}  password ${DEMO_PASSWORD}`,
    `            (every demo user has that password: ${PEOPLE.filter((p) => p.key !== MAIN_PERSON)
      .map((p) => p.email.split("@")[0])
      .join(", ")} @demo.example.com)`,
    `Org         ${ORGANIZATIONS[0].name}  ${input.mainOrgId}`,
    input.apiKey
      ? `API key     ${input.apiKey}  (shown once; scopes ${DEMO_API_KEY.scopes.join(" ")})`
      : `API key     "${DEMO_API_KEY.name}" exists; npm run db:seed:demo -- --new-api-key prints a new secret`,
    "",
    "Try it (with npm run dev running):",
    `  curl -s -X POST localhost:8787/api/v1/auth/login -H 'content-type: application/json' -d '{"email":"${main.email}","password":"${DEMO_PASSWORD}"}'`,
    `  curl -s localhost:8787/api/v1/orgs/${input.mainOrgId} -H 'authorization: Bearer ${input.apiKey ?? "<api key>"}'`,
  ];
  console.log(["", `  ┌${line}`, ...rows.map((row) => `  │ ${row}`), `  └${line}`, ""].join("\n"));
}

console.log("demo: applying local D1 migrations");
runWrangler(root, ["d1", "migrations", "apply", "DB", "--local"], { quiet: true });
const existing = readExisting();
const users = await seedUsers(existing);
const orgs = seedOrganizations(existing, users);
const apiKey = seedApiKeys(existing, orgs, users, {
  newSecret: process.argv.includes("--new-api-key"),
});
seedCatalog(existing, users);
seedTasks(existing, orgs, users);
seedNotifications(existing, users);
printSummary({ mainOrgId: orgs.get(MAIN_ORG_SLUG) as string, apiKey });
