/**
 * The `identities` section of a user's data export (the `export_user_data` task): the
 * identity-provider accounts linked to the account. Listed in src/modules/wiring.ts.
 */
import type { UserExportSection } from "../../tasks/task-types/export-user-data";
import { listIdentities, toIdentityDto } from "./identities.service";

export const identitiesExportSection: UserExportSection = {
  name: "identities",
  collect: async (ctx, userId) => (await listIdentities(ctx, userId)).map(toIdentityDto),
};
