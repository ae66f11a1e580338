/**
 * Test data through the real code paths: users are rows in the test file's D1,
 * sessions are opened by the sessions service and tokens signed with the test
 * run's key, so what a test gets is exactly what a client would hold.
 */
import { env } from "cloudflare:workers";
import { getDb } from "../../src/db/client";
import { type NewUser, sessions, type User, users } from "../../src/db/schema";
import { createServiceContext, type ServiceContext } from "../../src/lib/context";
import { uuidv7 } from "../../src/lib/ids";
import { hashPassword } from "../../src/lib/password";
import { type Principal, systemPrincipal } from "../../src/lib/principal";
import { issueTokens, prepareSession } from "../../src/modules/auth/sessions.service";
import type { UserDto } from "../../src/modules/users/users.schemas";
import { api, as, jsonOf, type RequestOptions } from "./http";

export const DEFAULT_PASSWORD = "correct horse battery staple";

/** scrypt costs ~150 ms: the default password is hashed once per test file. */
let defaultHash: Promise<string> | undefined;

export function serviceContext(
  principal: Principal = systemPrincipal("test"),
  client: ServiceContext["client"] = {},
): ServiceContext {
  return createServiceContext({ env, principal, requestId: uuidv7(), client });
}

export type TestUser = { user: User; email: string; password: string };

let sequence = 0;

/** A user row; unique email and username unless given. `password` is hashed (the default one only once). */
export async function createUser(
  overrides: Partial<Omit<NewUser, "passwordHash">> & { password?: string } = {},
): Promise<TestUser> {
  const { password = DEFAULT_PASSWORD, ...fields } = overrides;
  sequence += 1;
  const tag = `${sequence}-${crypto.randomUUID().slice(0, 8)}`;
  if (password === DEFAULT_PASSWORD && !defaultHash) defaultHash = hashPassword(DEFAULT_PASSWORD);
  const passwordHash =
    password === DEFAULT_PASSWORD && defaultHash ? await defaultHash : await hashPassword(password);
  const [user] = await getDb(env)
    .insert(users)
    .values({
      email: `user-${tag}@example.test`,
      username: `user_${tag.replace("-", "_")}`,
      ...fields,
      passwordHash,
    })
    .returning();
  if (!user) throw new Error("createUser: no row");
  return { user, email: user.email, password };
}

export const createStaff = (overrides: Parameters<typeof createUser>[0] = {}) =>
  createUser({ isStaff: true, ...overrides });

export type Tokens = { accessToken: string; refreshToken: string; sessionId: string };

/**
 * Opens a real session for `user` without a password round trip (no scrypt), as a
 * password sign-in would (`amr: ["pwd"]`). `at` signs in at another moment (its
 * `auth_time` and the session's creation), to test what an old sign-in may do.
 */
export async function signIn(
  user: User,
  client: ServiceContext["client"] = {},
  options: { at?: number; amr?: string[] } = {},
): Promise<Tokens> {
  const ctx = serviceContext(systemPrincipal("test"), client);
  const now = options.at ?? Date.now();
  const { row, refreshToken } = await prepareSession(ctx, user.id, now, {
    authTime: now,
    amr: options.amr ?? ["pwd"],
  });
  const [session] = await ctx.db.insert(sessions).values(row).returning();
  if (!session) throw new Error("signIn: no session row");
  const tokens = await issueTokens(ctx, { user, session, refreshToken }, now);
  return { accessToken: tokens.access.token, refreshToken: tokens.refreshToken, sessionId: row.id };
}

/** A signed-in user as tests drive one: the account, its session's tokens, and a client bound to the access token. */
export type Person = TestUser & { tokens: Tokens; token: string; api: ReturnType<typeof as> };

/** A user (createUser `overrides`) with an open session (signIn `client`) and an `as()` client for it. */
export async function person(
  overrides: Parameters<typeof createUser>[0] = {},
  client: ServiceContext["client"] = {},
): Promise<Person> {
  const account = await createUser(overrides);
  const tokens = await signIn(account.user, client);
  return { ...account, tokens, token: tokens.accessToken, api: as(tokens.accessToken) };
}

/** An email address nobody has used yet (`tag-xxxxxxxx@example.com`), for flows that start from an address. */
export const newAddress = (tag: string) => `${tag}-${crypto.randomUUID().slice(0, 8)}@example.com`;

export type AuthTokensBody = {
  user: UserDto;
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
};

/** POST /api/v1/auth/login, asserting 200. */
export async function loginAs(
  identity: { email: string; password: string },
  options: Omit<RequestOptions, "body"> = {},
): Promise<AuthTokensBody> {
  const res = await api("POST", "/api/v1/auth/login", {
    ...options,
    body: { email: identity.email, password: identity.password },
  });
  return jsonOf<AuthTokensBody>(res, 200);
}
