import { z } from "zod";
import { displayText, formatUtc, httpUrl } from "./fields";
import { defineTemplate } from "./types";

const ROLE_LABELS = {
  owner: "an owner",
  admin: "an admin",
  member: "a member",
  billing: "a billing manager",
} as const;

export const orgInvitation = defineTemplate({
  description: "Sent by POST /orgs/{org_id}/invitations: an invitation to join an organization with a role.",
  schema: z.strictObject({
    inviter_name: displayText(120),
    organization_name: displayText(120),
    role: z.enum(["owner", "admin", "member", "billing"]),
    accept_url: httpUrl,
    expires_at: z.iso.datetime(),
  }),
  compose: (data, site) => ({
    subject: `${data.inviter_name} invited you to join ${data.organization_name} on ${site.appName}`,
    preheader: `Join ${data.organization_name} on ${site.appName} as ${ROLE_LABELS[data.role]}.`,
    heading: `Join ${data.organization_name}`,
    blocks: [
      {
        kind: "paragraph",
        text: [
          { strong: data.inviter_name },
          " invited you to join ",
          { strong: data.organization_name },
          ` on ${site.appName} as ${ROLE_LABELS[data.role]}.`,
        ],
      },
      { kind: "button", label: "Accept invitation", url: data.accept_url },
      {
        kind: "note",
        text: [
          `This invitation expires on ${formatUtc(data.expires_at)}. If you were not expecting it, you can ignore this email.`,
        ],
      },
    ],
    reason: `You received this email because a member of ${data.organization_name} invited this address to ${site.appName}.`,
  }),
});
