/**
 * How the modules are plugged into each other, in one place and in order. Modules
 * define their hooks, steps, resolvers and jobs as plain exports; nothing registers
 * itself on import. `wireModules()` (called once by createApp(), and by the test
 * setup) installs this list into the registries the owning modules read.
 *
 * Adding a sign-in hook, an erasure step or a cron job is one line below; the order
 * of each list is the order things run.
 */
import { type DeliveredEmailObserver, deliveredEmailObservers } from "../email/deliver-email.job";
import type { EmailEventListener } from "../email/events";
import { onEmailEvent } from "../email/events";
import type { MaintenanceJob } from "../jobs/maintenance-job";
import { purgeIdempotencyRecordsJob } from "../lib/idempotency/purge.cron";
import { purgeObjectsJob } from "../lib/storage/object-purges.cron";
import {
  accessTokenResolver,
  type CredentialResolver,
  credentialResolvers,
} from "../middleware/authenticate";
import { apiKeyResolver } from "./api-keys/api-key-resolver";
import { purgeSecretsJob } from "./api-keys/api-keys.cron";
import { revokeKeysCreatedBy, revokeOrganizationKeys } from "./api-keys/api-keys.service";
import { archiveAuditLogsJob } from "./audit/audit-retention.cron";
import {
  type AccountClaimStep,
  type AccountErasureStep,
  accountClaimSteps,
  accountErasureSteps,
  type RegistrationHook,
  registrationHooks,
} from "./auth/accounts";
import { purgeAuthTokensJob } from "./auth/auth-tokens.cron";
import { sendSignUpEmail } from "./auth/email-verification.service";
import { identitiesExportSection } from "./auth/identity-providers/identities.export";
import { purgeProviderSignInsJob } from "./auth/identity-providers/provider-sign-in.cron";
import { dropSecondFactorsOfClaimedAccount } from "./auth/mfa-factors";
import { firstDeviceRegistrationHook, newDeviceSignInHook } from "./auth/new-device.service";
import { purgePasskeyChallengesJob } from "./auth/passkeys/passkeys.cron";
import { removePasskeysOf } from "./auth/passkeys/passkeys.service";
import { purgeSessionsJob } from "./auth/sessions.cron";
import { sessionsExportSection } from "./auth/sessions.export";
import { type SessionRevocationHook, sessionRevocationHooks } from "./auth/sessions.service";
import { type SignInHook, signInHooks } from "./auth/sign-in";
import { purgeStripeEventsJob, redispatchStripeEventsJob } from "./billing/stripe-events.cron";
import { cancelSubscriptionsOfDeletedOrganization } from "./billing/subscriptions.service";
import { keepInDevMailbox } from "./dev-mailbox/dev-mailbox.service";
import { purgeStaleFileUploadsJob } from "./files/files.cron";
import { forgetFileCreator, purgeFilesOfDeletedOrganization } from "./files/files.service";
import { countEmailEvent } from "./metrics/metrics.recorder";
import { purgeNotificationsJob } from "./notifications/notifications.cron";
import { closeRevokedSockets, eraseNotifications } from "./notifications/notifications.hooks";
import { clientTokenResolver } from "./oauth/client-token-resolver";
import { purgeInvitationsJob } from "./orgs/invitations.cron";
import {
  createPersonalOrganization,
  eraseMemberships,
  type OrganizationDeletionStep,
  organizationDeletionSteps,
} from "./orgs/orgs.service";
import { dropDevicesOfRevokedSessions, erasePushSubscriptions } from "./push/push.hooks";
import { enqueueScheduledTasksJob } from "./tasks/task-scheduler.cron";
import { type UserExportSection, userExportSections } from "./tasks/task-types/export-user-data";
import { tasksExportSection } from "./tasks/tasks.export";
import { eraseUserTasks } from "./tasks/tasks.service";
import { deleteAllAvatars } from "./users/avatar.service";
import { purgeAvatarUploadsOfErasedAccount } from "./users/avatar-upload.service";
import { purgeStaleAvatarUploadsJob } from "./users/avatar-uploads.cron";
import { purgeOldWebhookEventsJob, sweepWebhooksJob } from "./webhooks/webhooks.cron";

export const wiring = {
  /**
   * Credentials, tried in order; the first whose `accepts` matches decides. Client-credentials
   * tokens come before people's access tokens (which would refuse them for lacking a session);
   * API keys (`sk_live_…`/`sk_test_…`, Bearer or X-API-Key) are recognised by their prefix.
   */
  credentialResolvers: [clientTokenResolver, apiKeyResolver, accessTokenResolver] as CredentialResolver[],

  /** After an account is created, whatever created it (auth/accounts.ts → createAccount). */
  registrationHooks: [
    sendSignUpEmail, // the verification email, or the welcome email for a verified sign-up
    firstDeviceRegistrationHook, // the device it signed up from is its first known device
    async (ctx, user) => {
      await createPersonalOrganization(ctx, user);
    },
  ] as RegistrationHook[],

  /** After a sign-in to an existing account opened its session (auth/sign-in.ts → openSession). */
  signInHooks: [newDeviceSignInHook] as SignInHook[],

  /** After sessions are revoked (auth/sessions.service.ts). */
  sessionRevocationHooks: [
    closeRevokedSockets,
    dropDevicesOfRevokedSessions, // a signed-out device receives no more pushes
  ] as SessionRevocationHook[],

  /** Before a never-verified account is claimed by the owner of its address (auth/accounts.ts). */
  accountClaimSteps: [
    revokeKeysCreatedBy, // API keys the squatter created
    dropSecondFactorsOfClaimedAccount, // an authenticator app the squatter enrolled
    removePasskeysOf, // registered before the address was proven: maybe not its owner's
  ] as AccountClaimStep[],

  /**
   * Statements (or off-D1 clean-ups) of an account's erasure (auth/accounts.ts → eraseAccount). Rows
   * whose foreign key cascades from users (passkeys, their challenges and user handle) need no step.
   */
  accountErasureSteps: [
    eraseNotifications,
    erasePushSubscriptions,
    eraseMemberships, // settles the organizations it owned
    eraseUserTasks, // and their export files
    async (ctx, userId) => {
      await deleteAllAvatars(ctx, userId); // R2 only: nothing for the D1 batch
      return [];
    },
    purgeAvatarUploadsOfErasedAccount, // its open large-avatar uploads, swept again once their URLs expired
    forgetFileCreator, // its organizations' files stay, created_by cleared, in every tenant database
  ] as AccountErasureStep[],

  /** The sections of a user's data export (the `export_user_data` task), after the profile. */
  userExportSections: [
    sessionsExportSection,
    identitiesExportSection,
    tasksExportSection,
  ] as UserExportSection[],

  /** Before an organization is deleted (orgs/orgs.service.ts → deleteOrganization). */
  organizationDeletionSteps: [
    revokeOrganizationKeys,
    cancelSubscriptionsOfDeletedOrganization,
    purgeFilesOfDeletedOrganization, // its files' rows (in its tenant database) and R2 objects
  ] as OrganizationDeletionStep[],

  /** Cron jobs (src/scheduled.ts); each says how often it runs. */
  maintenanceJobs: [
    purgeSessionsJob,
    purgeNotificationsJob,
    purgeAuthTokensJob,
    purgeProviderSignInsJob,
    enqueueScheduledTasksJob,
    purgeIdempotencyRecordsJob,
    purgeSecretsJob,
    redispatchStripeEventsJob,
    purgeStripeEventsJob,
    purgeInvitationsJob,
    purgePasskeyChallengesJob,
    sweepWebhooksJob, // outbox events and deliveries a crash or a failed send left behind
    purgeOldWebhookEventsJob,
    purgeStaleFileUploadsJob, // these two before storage.purge_objects, which deletes what they purged
    purgeStaleAvatarUploadsJob,
    purgeObjectsJob,
    archiveAuditLogsJob, // audit rows past AUDIT_RETENTION_DAYS: to R2, then out of D1
  ] as MaintenanceJob[],

  /** Every email delivery attempt (the email queue consumer). */
  emailEventListeners: [(event) => countEmailEvent(event)] as EmailEventListener[],

  /** Every email the provider accepted (development: a copy for GET /dev/mailbox). */
  deliveredEmailObservers: [keepInDevMailbox] as DeliveredEmailObserver[],
};

let wired = false;

/** Installs `wiring` into the modules' registries, once per isolate. */
export function wireModules(): void {
  if (wired) return;
  wired = true;
  credentialResolvers.splice(0, credentialResolvers.length, ...wiring.credentialResolvers);
  registrationHooks.push(...wiring.registrationHooks);
  signInHooks.push(...wiring.signInHooks);
  sessionRevocationHooks.push(...wiring.sessionRevocationHooks);
  accountClaimSteps.push(...wiring.accountClaimSteps);
  accountErasureSteps.push(...wiring.accountErasureSteps);
  userExportSections.push(...wiring.userExportSections);
  organizationDeletionSteps.push(...wiring.organizationDeletionSteps);
  for (const listener of wiring.emailEventListeners) onEmailEvent(listener);
  deliveredEmailObservers.push(...wiring.deliveredEmailObservers);
}
