/** The feature modules the app mounts, in order. Adding a module is one line here. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { MergeSchemaPath, Schema } from "hono/types";
import type { UnionToIntersection } from "hono/utils/types";
import type { AppEnv } from "../app-env";
import type { AppRouter } from "../lib/create-router";
import { adminRouter } from "./admin/admin.index";
import { apiKeysRouter } from "./api-keys/api-keys.index";
import { authRouter, jwksRouter } from "./auth/auth.index";
import { linkedIdentitiesRouter } from "./auth/identity-providers/identity-providers.index";
import { myPasskeysRouter, passkeyCeremoniesRouter } from "./auth/passkeys/passkeys.index";
import { billingRouter, orgBillingRouter, webhooksRouter } from "./billing/billing.index";
import { categoriesRouter, productsRouter } from "./catalog/catalog.index";
import { devMailboxRouter } from "./dev-mailbox/dev-mailbox.index";
import { featureFlagsRouter } from "./feature-flags/feature-flags.index";
import { filesRouter, fileTransfersRouter } from "./files/files.index";
import { healthRouter } from "./health/health.index";
import { metricsRouter } from "./metrics/metrics.index";
import { notificationsRouter } from "./notifications/notifications.index";
import { oauthRouter } from "./oauth/oauth.index";
import { invitationsRouter, orgsRouter } from "./orgs/orgs.index";
import { preRegistrationsRouter } from "./pre-registrations/pre-registrations.index";
import { pushKeysRouter, pushSubscriptionsRouter } from "./push/push.index";
import { tasksRouter } from "./tasks/tasks.index";
import { usersRouter } from "./users/users.index";
import { webhookEndpointsRouter, webhookEventTypesRouter } from "./webhooks/webhooks.index";

type ModuleMount = { path: string; router: AppRouter };

// `as const` keeps each entry's literal path and its router's own route types, so that ModulesSchema
// below can describe every route to hono/client; `satisfies` still checks that each entry is mountable.
export const modules = [
  { path: "/", router: healthRouter },
  { path: "/", router: jwksRouter },
  { path: "/api/v1/auth", router: authRouter },
  { path: "/api/v1/auth", router: passkeyCeremoniesRouter },
  { path: "/api/v1/users", router: usersRouter },
  { path: "/api/v1/users", router: linkedIdentitiesRouter },
  { path: "/api/v1/users", router: myPasskeysRouter },
  { path: "/api/v1/orgs", router: orgsRouter },
  { path: "/api/v1/orgs", router: apiKeysRouter },
  { path: "/api/v1/orgs", router: filesRouter },
  { path: "/api/v1/files", router: fileTransfersRouter },
  { path: "/api/v1/invitations", router: invitationsRouter },
  { path: "/api/v1/oauth", router: oauthRouter },
  { path: "/api/v1/notifications", router: notificationsRouter },
  { path: "/api/v1/users/me/push-subscriptions", router: pushSubscriptionsRouter },
  { path: "/api/v1/notifications/push", router: pushKeysRouter },
  { path: "/api/v1/pre-registrations", router: preRegistrationsRouter },
  { path: "/api/v1/tasks", router: tasksRouter },
  { path: "/api/v1/categories", router: categoriesRouter },
  { path: "/api/v1/products", router: productsRouter },
  { path: "/api/v1/billing", router: billingRouter },
  { path: "/api/v1/orgs", router: orgBillingRouter },
  { path: "/api/v1/webhooks", router: webhooksRouter },
  { path: "/api/v1/orgs", router: webhookEndpointsRouter },
  { path: "/api/v1/webhooks", router: webhookEventTypesRouter },
  { path: "/api/v1/feature-flags", router: featureFlagsRouter },
  { path: "/", router: metricsRouter },
  { path: "/admin/v1", router: adminRouter },
  { path: "/dev", router: devMailboxRouter },
] as const satisfies readonly ModuleMount[];

type Mounted<M> = M extends {
  path: infer P extends string;
  router: OpenAPIHono<AppEnv, infer S extends Schema>;
}
  ? MergeSchemaPath<S, P>
  : never;

/** Every module's routes under their mount paths: the schema behind `AppType` (src/app.ts) and hono/client. */
export type ModulesSchema = UnionToIntersection<Mounted<(typeof modules)[number]>>;
