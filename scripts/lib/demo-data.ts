/**
 * What `npm run db:seed:demo` puts in the local database: people, two organizations with a
 * member in every role, tasks in every status, notifications, a small catalog. Natural keys
 * (emails, slugs, titles, names) are what make a second run find what the first one made.
 */

/** Every demo account signs in with this password (local data only; printed by the seed). */
export const DEMO_PASSWORD = "demo-password-2026";

export type DemoPerson = { key: string; first: string; last: string; email: string; username: string };

export const PEOPLE = [
  { key: "maya", first: "Maya", last: "Patel", email: "maya.patel@demo.example.com", username: "maya.patel" },
  {
    key: "lucas",
    first: "Lucas",
    last: "Martin",
    email: "lucas.martin@demo.example.com",
    username: "lucas.martin",
  },
  {
    key: "sofia",
    first: "Sofia",
    last: "Rossi",
    email: "sofia.rossi@demo.example.com",
    username: "sofia.rossi",
  },
  {
    key: "kenji",
    first: "Kenji",
    last: "Tanaka",
    email: "kenji.tanaka@demo.example.com",
    username: "kenji.tanaka",
  },
  {
    key: "amara",
    first: "Amara",
    last: "Okafor",
    email: "amara.okafor@demo.example.com",
    username: "amara.okafor",
  },
  {
    key: "jonas",
    first: "Jonas",
    last: "Weber",
    email: "jonas.weber@demo.example.com",
    username: "jonas.weber",
  },
] as const satisfies readonly DemoPerson[];

export type PersonKey = (typeof PEOPLE)[number]["key"];

/** The account the summary suggests signing in with: owner of the first organization. */
export const MAIN_PERSON: PersonKey = "maya";

/** `<First> <Last>'s organization`, slugged as src/modules/orgs/orgs.service.ts slugifies it. */
export function personalOrg(person: DemoPerson): { name: string; slug: string } {
  const name = `${person.first} ${person.last}'s organization`;
  const slug = name
    .toLowerCase()
    .replace(/['’]/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return { name, slug };
}

export type OrgRole = "owner" | "admin" | "member" | "billing";

export const ORGANIZATIONS = [
  {
    name: "Acme Robotics",
    slug: "acme-robotics",
    members: { maya: "owner", lucas: "admin", sofia: "member", jonas: "member", kenji: "billing" },
  },
  {
    name: "Globex Analytics",
    slug: "globex-analytics",
    members: { amara: "owner", jonas: "admin", maya: "member", sofia: "billing" },
  },
] as const satisfies ReadonlyArray<{
  name: string;
  slug: string;
  members: Partial<Record<PersonKey, OrgRole>>;
}>;

/** The organization whose API key is printed and whose tasks show every status. */
export const MAIN_ORG_SLUG = "acme-robotics";

/** The printed key: every scope an owner may grant (src/modules/orgs/permissions.ts). */
export const DEMO_API_KEY = {
  name: "Demo integration",
  scopes: ["org:read", "tasks:read", "tasks:write", "notifications:read", "products:write", "billing:read"],
};

/** Other keys of the main organization, to fill the list: one read-only that expires, one revoked. */
export const OTHER_API_KEYS = [
  { name: "Reporting (read-only)", scopes: ["org:read", "tasks:read"], expiresInDays: 90, revoked: false },
  { name: "Old CI pipeline", scopes: ["tasks:write"], expiresInDays: null, revoked: true },
] as const;

type TaskStatus = "PENDING" | "STARTED" | "SUCCESS" | "FAILURE" | "RETRY" | "REVOKED";

/**
 * One task per status, with the columns the runner would have left on it (see
 * src/modules/tasks/task-run.job.ts). Times are minutes before the seed runs.
 */
export const TASKS: ReadonlyArray<{
  status: TaskStatus;
  type: string;
  payload: Record<string, unknown>;
  createdMinutesAgo: number;
  result?: unknown;
  error?: { code: string; message: string };
  progress: number;
  attempts: number;
}> = [
  {
    status: "SUCCESS",
    type: "process_data",
    payload: { items: [{ amount: 12.5 }, { amount: 7 }, { amount: 30 }], field: "amount" },
    result: { count: 3, sum: 49.5, mean: 16.5, min: 7, max: 30 },
    createdMinutesAgo: 2 * 24 * 60,
    progress: 100,
    attempts: 1,
  },
  {
    status: "FAILURE",
    type: "add",
    payload: { x: 1e308, y: 1e308 },
    error: { code: "result_out_of_range", message: "The sum is too large." },
    createdMinutesAgo: 26 * 60,
    progress: 0,
    attempts: 1,
  },
  {
    status: "REVOKED",
    type: "sleep",
    payload: { seconds: 300 },
    createdMinutesAgo: 5 * 60,
    progress: 0,
    attempts: 0,
  },
  {
    status: "RETRY",
    type: "process_data",
    payload: { items: [3, 1, 4, 1, 5, 9, 2, 6] },
    error: { code: "time_limit_exceeded", message: "The task did not finish within its 60 s time limit." },
    createdMinutesAgo: 40,
    progress: 0,
    attempts: 1,
  },
  {
    status: "STARTED",
    type: "sleep",
    payload: { seconds: 600 },
    createdMinutesAgo: 3,
    progress: 40,
    attempts: 1,
  },
  {
    status: "PENDING",
    type: "add",
    payload: { x: 2, y: 3 },
    createdMinutesAgo: 1,
    progress: 0,
    attempts: 0,
  },
];

/** A PENDING task waits for this (a scheduled run next week), so nothing picks it up meanwhile. */
export const PENDING_RUN_IN_DAYS = 7;

export type NotificationType =
  | "task_completed"
  | "task_failed"
  | "org_invitation"
  | "billing_alert"
  | "new_comment"
  | "system";

export const NOTIFICATIONS: ReadonlyArray<{
  to: PersonKey;
  type: NotificationType;
  title: string;
  message: string;
  target_url: string | null;
  read: boolean;
  hoursAgo: number;
}> = [
  {
    to: "maya",
    type: "system",
    title: "Welcome to the demo workspace",
    message: "Acme Robotics and Globex Analytics are ready, with tasks, API keys and a catalog to explore.",
    target_url: "/orgs",
    read: true,
    hoursAgo: 48,
  },
  {
    to: "maya",
    type: "task_completed",
    title: "Your process_data task finished",
    message: "3 records summarised: sum 49.5, mean 16.5.",
    target_url: "/tasks",
    read: true,
    hoursAgo: 47,
  },
  {
    to: "maya",
    type: "task_failed",
    title: "Your add task failed",
    message: "The sum is too large.",
    target_url: "/tasks",
    read: false,
    hoursAgo: 25,
  },
  {
    to: "maya",
    type: "new_comment",
    title: "Lucas Martin commented on Q4 robot fleet",
    message: "Looks good to me. Can we ship the firmware update on Friday?",
    target_url: "/orgs/acme-robotics",
    read: false,
    hoursAgo: 3,
  },
  {
    to: "maya",
    type: "billing_alert",
    title: "Acme Robotics is running low on credits",
    message: "Only 8 credits remain. Buy a credit pack to keep tasks running.",
    target_url: "/orgs/acme-robotics/billing",
    read: false,
    hoursAgo: 1,
  },
  {
    to: "lucas",
    type: "org_invitation",
    title: "You joined Acme Robotics",
    message: "Maya Patel added you as an admin.",
    target_url: "/orgs/acme-robotics",
    read: true,
    hoursAgo: 30,
  },
  {
    to: "lucas",
    type: "system",
    title: "Scheduled maintenance on Sunday",
    message: "The API may answer slowly between 02:00 and 02:30 UTC.",
    target_url: null,
    read: false,
    hoursAgo: 5,
  },
  {
    to: "amara",
    type: "new_comment",
    title: "Jonas Weber commented on the churn dashboard",
    message: "I added the November numbers; the cohort chart needs a second look.",
    target_url: "/orgs/globex-analytics",
    read: false,
    hoursAgo: 2,
  },
];

export const CATEGORIES: ReadonlyArray<{
  name: string;
  slug: string;
  description: string;
  products: ReadonlyArray<{ name: string; description: string; price: string; currency: string }>;
}> = [
  {
    name: "Laptops",
    slug: "laptops",
    description: "Portable computers for work and travel.",
    products: [
      {
        name: "Travel laptop 14",
        description: "A 14-inch ultralight laptop with 32 GB of memory and a 20-hour battery.",
        price: "1499.00",
        currency: "USD",
      },
      {
        name: "Studio laptop 16",
        description: "16-inch display, 64 GB of memory, made for video editing.",
        price: "2899.00",
        currency: "USD",
      },
      {
        name: "Student laptop 13",
        description: "Light, quiet and affordable, with a full-size keyboard.",
        price: "649.99",
        currency: "EUR",
      },
      {
        name: "Rugged field laptop",
        description: "Drop-tested and splash-proof, with a daylight-readable screen.",
        price: "1899.00",
        currency: "GBP",
      },
    ],
  },
  {
    name: "Audio",
    slug: "audio",
    description: "Headphones, speakers and microphones.",
    products: [
      {
        name: "Noise-cancelling headphones",
        description: "Over-ear wireless headphones with 30 hours of playback.",
        price: "299.00",
        currency: "USD",
      },
      {
        name: "Bookshelf speakers",
        description: "A pair of passive speakers with a warm, detailed sound.",
        price: "349.00",
        currency: "EUR",
      },
      {
        name: "USB podcast microphone",
        description: "Cardioid condenser microphone with a headphone output.",
        price: "129.50",
        currency: "USD",
      },
      {
        name: "Wireless earbuds",
        description: "Compact earbuds with a pocket charging case.",
        price: "19800",
        currency: "JPY",
      },
    ],
  },
  {
    name: "Home office",
    slug: "home-office",
    description: "Desks, chairs and lighting for working from home.",
    products: [
      {
        name: "Standing desk",
        description: "Electric sit-stand desk with four memory presets.",
        price: "549.00",
        currency: "USD",
      },
      {
        name: "Ergonomic chair",
        description: "Adjustable lumbar support, armrests and seat depth.",
        price: "429.00",
        currency: "GBP",
      },
      {
        name: "Desk lamp",
        description: "Dimmable LED lamp with an adjustable colour temperature.",
        price: "59.90",
        currency: "EUR",
      },
      {
        name: "Monitor arm",
        description: "Gas-spring arm for screens up to 32 inches.",
        price: "119.00",
        currency: "USD",
      },
    ],
  },
  {
    name: "Outdoors",
    slug: "outdoors",
    description: "Gear for hiking, camping and cycling.",
    products: [
      {
        name: "Trail backpack 30 L",
        description: "Ventilated back panel, rain cover and hydration sleeve.",
        price: "139.00",
        currency: "USD",
      },
      {
        name: "Ultralight tent",
        description: "A two-person tent that packs down to the size of a bottle.",
        price: "399.00",
        currency: "EUR",
      },
      {
        name: "Insulated bottle",
        description: "Keeps drinks cold for a day or hot for twelve hours.",
        price: "34.95",
        currency: "USD",
      },
      {
        name: "Solar lantern",
        description: "Charges in the sun; lights a tent for a whole night.",
        price: "24.00",
        currency: "GBP",
      },
    ],
  },
  {
    name: "Books",
    slug: "books",
    description: "Technical books and field guides.",
    products: [
      {
        name: "Designing Data Systems",
        description: "Storage, replication and stream processing, explained with care.",
        price: "49.99",
        currency: "USD",
      },
      {
        name: "The Pragmatic Engineer",
        description: "Habits and practices of effective software teams.",
        price: "39.00",
        currency: "EUR",
      },
      {
        name: "Robotics from Scratch",
        description: "Sensors, motors and control loops for the hobbyist.",
        price: "29.50",
        currency: "GBP",
      },
      {
        name: "Field Guide to Birds",
        description: "Over 800 species with maps and illustrations.",
        price: "3200",
        currency: "JPY",
      },
    ],
  },
];
