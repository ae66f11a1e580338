/**
 * Tenancy test data: organizations, memberships, invitations and API keys as
 * rows in the test file's D1, with secrets made by the real key generator, so a
 * test holds exactly what a client would.
 */
import { env } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { getDb } from "../../src/db/client";
import {
  type ApiKey,
  apiKeySecrets,
  apiKeys,
  type Invitation,
  invitations,
  memberships,
  type Organization,
  type OrgRole,
  organizations,
  type User,
} from "../../src/db/schema";
import { randomToken, sha256Hex } from "../../src/lib/crypto";
import { uuidv7 } from "../../src/lib/ids";
import type {
  ApiKeyWithSecretSchema,
  RotatedApiKeySchema,
} from "../../src/modules/api-keys/api-keys.schemas";
import { displayPrefix, generateApiKey, type KeyMode } from "../../src/modules/api-keys/key-format";
import type { ApiKeyScope } from "../../src/modules/orgs/permissions";
import { api } from "./http";

const db = () => getDb(env);
let sequence = 0;

/** An organization owned by `owner` (an owner membership is created with it). */
export async function createOrg(
  owner: User,
  overrides: Partial<Pick<Organization, "name" | "slug" | "isPersonal">> = {},
): Promise<Organization> {
  sequence += 1;
  const id = uuidv7();
  const tag = `${sequence}-${crypto.randomUUID().slice(0, 8)}`;
  const [[organization]] = await db().batch([
    db()
      .insert(organizations)
      .values({ id, name: `Org ${tag}`, slug: `org-${tag}`, createdBy: owner.id, ...overrides })
      .returning(),
    db().insert(memberships).values({ organizationId: id, userId: owner.id, role: "owner" }),
  ]);
  if (!organization) throw new Error("createOrg: no row");
  return organization;
}

export async function addMember(organization: Organization, user: User, role: OrgRole): Promise<void> {
  await db().insert(memberships).values({ organizationId: organization.id, userId: user.id, role });
}

export type TestApiKey = { key: ApiKey; secret: string };

/** A key as POST /orgs/{org_id}/api-keys answers it: the key and, this once, its secret `key`. */
export type ApiKeyWithSecretDto = z.infer<typeof ApiKeyWithSecretSchema>;
/** A rotated key: the new secret, and when the one it replaced stops working. */
export type RotatedApiKeyDto = z.infer<typeof RotatedApiKeySchema>;

/** A key of `organization` with a real secret (only its hash is stored, as in production). */
export async function createApiKey(
  organization: Organization,
  options: {
    createdBy?: User;
    scopes?: ApiKeyScope[];
    name?: string;
    mode?: KeyMode;
    expiresAt?: Date | null;
    revokedAt?: Date | null;
    rateLimit?: { limit: number; windowSeconds: number };
  } = {},
): Promise<TestApiKey> {
  const mode = options.mode ?? "test";
  const secret = generateApiKey(mode);
  const id = uuidv7();
  const [[key]] = await db().batch([
    db()
      .insert(apiKeys)
      .values({
        id,
        organizationId: organization.id,
        name: options.name ?? "Test key",
        mode,
        prefix: displayPrefix(secret),
        scopes: options.scopes ?? ["org:read"],
        createdBy: options.createdBy?.id ?? null,
        expiresAt: options.expiresAt ?? null,
        revokedAt: options.revokedAt ?? null,
        rateLimit: options.rateLimit?.limit ?? null,
        rateLimitWindowSeconds: options.rateLimit?.windowSeconds ?? null,
      })
      .returning(),
    db()
      .insert(apiKeySecrets)
      .values({ secretHash: await sha256Hex(secret), keyId: id }),
  ]);
  if (!key) throw new Error("createApiKey: no row");
  return { key, secret };
}

export type TestInvitation = { invitation: Invitation; token: string };

/** An open invitation with a known token (the real flow only emails it). */
export async function createInvitation(
  organization: Organization,
  options: { email: string; role?: OrgRole; invitedBy?: User; expiresAt?: Date },
): Promise<TestInvitation> {
  const token = `inv_${randomToken(32)}`;
  const [invitation] = await db()
    .insert(invitations)
    .values({
      organizationId: organization.id,
      email: options.email,
      role: options.role ?? "member",
      tokenHash: await sha256Hex(token),
      invitedBy: options.invitedBy?.id ?? null,
      expiresAt: options.expiresAt ?? new Date(Date.now() + 7 * 24 * 60 * 60 * 1000),
    })
    .returning();
  if (!invitation) throw new Error("createInvitation: no row");
  return { invitation, token };
}

/** GET /orgs/{org_id} with `secret` as the Bearer credential: the plainest check of whether a key still works. */
export const readOrg = (organization: Organization, secret: string) =>
  api("GET", `/api/v1/orgs/${organization.id}`, { token: secret });

/** `X-API-Key` header for a key. */
export const apiKeyHeaders = (secret: string) => ({ "x-api-key": secret });
