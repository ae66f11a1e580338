import { createRouter } from "../../lib/create-router";
import * as invitationHandlers from "./invitations.handlers";
import * as invitationRoutes from "./invitations.routes";
import * as handlers from "./orgs.handlers";
import * as routes from "./orgs.routes";

/** Mounted at /api/v1/orgs (the API-key routes under /{org_id}/api-keys live in the api-keys module). */
export const orgsRouter = createRouter()
  .openapi(routes.createOrg, handlers.createOrg)
  .openapi(routes.listOrgs, handlers.listOrgs)
  .openapi(routes.getOrg, handlers.getOrg)
  .openapi(routes.updateOrg, handlers.updateOrg)
  .openapi(routes.deleteOrg, handlers.deleteOrg)
  .openapi(routes.listMembers, handlers.listMembers)
  .openapi(routes.updateMember, handlers.updateMember)
  .openapi(routes.removeMember, handlers.removeMember)
  .openapi(invitationRoutes.createInvitation, invitationHandlers.createInvitation)
  .openapi(invitationRoutes.listInvitations, invitationHandlers.listInvitations)
  .openapi(invitationRoutes.getInvitation, invitationHandlers.getInvitation)
  .openapi(invitationRoutes.revokeInvitation, invitationHandlers.revokeInvitation);

/** Mounted at /api/v1/invitations. */
export const invitationsRouter = createRouter().openapi(
  invitationRoutes.acceptInvitation,
  invitationHandlers.acceptInvitation,
);
