/**
 * Who may do what in an organization: THE permission table. Route guards
 * (`requireOrgAccess`, `requireOrgRole`, `requireScopes`), the services and the
 * table in docs/orgs.md all read it from here, so a rule changes in one place.
 *
 * - People act through their membership role.
 * - API keys act through their scopes. A permission with `scope: null` is for
 *   people only: no key can exercise it, whatever scopes it holds (keys cannot
 *   manage keys, members or the organization itself, so a leaked key cannot
 *   grant itself more).
 * - A key can only be given scopes its creator's role allows (`rolesGranting`),
 *   and a scope never unlocks more than the roles that may grant it can do.
 */
import { type OrgRole, orgRoles } from "../../db/schema/orgs";

export { type OrgRole, orgRoles };

const EVERYONE: readonly OrgRole[] = orgRoles;

/** Scopes an API key can hold; other modules enforce theirs with `requireScopes(...)`. */
export const API_KEY_SCOPES = {
  "org:read": {
    description: "Read the organization and its member list.",
    rolesGranting: EVERYONE,
  },
  "tasks:read": {
    description: "List and read the organization's background tasks.",
    rolesGranting: ["owner", "admin", "member"],
  },
  "tasks:write": {
    description: "Create, cancel and delete the organization's background tasks.",
    rolesGranting: ["owner", "admin", "member"],
  },
  "notifications:read": {
    description: "Read notifications through the notifications API.",
    rolesGranting: EVERYONE,
  },
  "products:write": {
    description: "Create, update and delete catalog products.",
    rolesGranting: ["owner", "admin", "member"],
  },
  "billing:read": {
    description: "Read the organization's subscription and credit balance.",
    rolesGranting: ["owner", "billing"],
  },
  "webhooks:read": {
    description:
      "List and read the organization's webhook endpoints and their delivery logs (never the receivers' answers, which only owners and admins see).",
    rolesGranting: ["owner", "admin"],
  },
  "webhooks:write": {
    description:
      "Create, change, delete webhook endpoints, rotate their secrets, send test events and retry deliveries.",
    rolesGranting: ["owner", "admin"],
  },
  "files:read": {
    description: "List and read the organization's files and get their download URLs.",
    rolesGranting: EVERYONE,
  },
  "files:write": {
    description: "Upload (create and complete) and delete the organization's files.",
    rolesGranting: ["owner", "admin", "member"],
  },
  "*": {
    description:
      "Every scope, including scopes added later: the key can do whatever any key of the organization can. Only owners grant it, and creating (or re-scoping) a key with it needs a recent authentication.",
    rolesGranting: ["owner"],
  },
} as const satisfies Record<string, { description: string; rolesGranting: readonly OrgRole[] }>;

export type ApiKeyScope = keyof typeof API_KEY_SCOPES;
export const API_KEY_SCOPE_NAMES = Object.keys(API_KEY_SCOPES) as ApiKeyScope[];

export function isApiKeyScope(value: string): value is ApiKeyScope {
  return Object.hasOwn(API_KEY_SCOPES, value);
}

/** The scope that stands for every scope. */
export const ALL_SCOPES: ApiKeyScope = "*";

/** Whether a key holding `held` may act with `scope` (`*` holds them all). */
export function holdsScope(held: readonly string[], scope: string): boolean {
  return held.includes(scope) || held.includes(ALL_SCOPES);
}

type PermissionRule = {
  description: string;
  /** Membership roles that hold it. */
  roles: readonly OrgRole[];
  /** The scope that lets an API key of the organization exercise it; null = people only. */
  scope: ApiKeyScope | null;
};

export const PERMISSIONS = {
  "org:read": {
    description: "Read the organization.",
    roles: EVERYONE,
    scope: "org:read",
  },
  "org:update": {
    description: "Rename the organization or change its slug.",
    roles: ["owner", "admin"],
    scope: null,
  },
  "org:delete": {
    description: "Delete the organization and everything it owns.",
    roles: ["owner"],
    scope: null,
  },
  "members:read": {
    description: "List members and their roles.",
    roles: EVERYONE,
    scope: "org:read",
  },
  "members:manage": {
    description:
      "Change members' roles and remove members (only owners grant, change or remove the owner role).",
    roles: ["owner", "admin"],
    scope: null,
  },
  "invitations:manage": {
    description: "Invite by email, list and revoke invitations (only owners invite owners).",
    roles: ["owner", "admin"],
    scope: null,
  },
  "api_keys:manage": {
    description: "Create, list, read, change, rotate and revoke API keys (with scopes their role allows).",
    roles: ["owner", "admin"],
    scope: null,
  },
  "billing:read": {
    description: "Read the subscription and the credit balance.",
    roles: ["owner", "admin", "billing"],
    scope: "billing:read",
  },
  "billing:manage": {
    description: "Start a checkout and open the billing portal.",
    roles: ["owner", "billing"],
    scope: null,
  },
  "webhooks:read": {
    description:
      "List and read webhook endpoints and their delivery logs (people also see the receivers' answers).",
    roles: ["owner", "admin"],
    scope: "webhooks:read",
  },
  "webhooks:manage": {
    description:
      "Create, change and delete webhook endpoints, rotate their secrets, send test events, retry deliveries.",
    roles: ["owner", "admin"],
    scope: "webhooks:write",
  },
  "files:read": {
    description: "List and read files, and get their download URLs.",
    roles: EVERYONE,
    scope: "files:read",
  },
  "files:write": {
    description: "Upload files (create, then complete) and delete them.",
    roles: ["owner", "admin", "member"],
    scope: "files:write",
  },
} as const satisfies Record<string, PermissionRule>;

export type OrgPermission = keyof typeof PERMISSIONS;

export function roleHas(role: OrgRole, permission: OrgPermission): boolean {
  return (PERMISSIONS[permission].roles as readonly OrgRole[]).includes(role);
}

/** The scope a key needs for `permission`, or null when keys may not exercise it. */
export function scopeFor(permission: OrgPermission): ApiKeyScope | null {
  return PERMISSIONS[permission].scope;
}

export function roleMayGrant(role: OrgRole, scope: ApiKeyScope): boolean {
  return (API_KEY_SCOPES[scope].rolesGranting as readonly OrgRole[]).includes(role);
}

/** The scopes in `requested` that `role` may not put on a key. */
export function scopesBeyondRole(role: OrgRole, requested: readonly ApiKeyScope[]): ApiKeyScope[] {
  return requested.filter((scope) => !roleMayGrant(role, scope));
}

/** Roles ordered by how much they may do; used to pick a successor when the last owner's account is erased. */
export const SUCCESSION_ORDER: readonly OrgRole[] = ["admin", "member", "billing"];
