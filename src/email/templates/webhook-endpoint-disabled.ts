import { z } from "zod";
import { displayText, formatUtc, httpUrl } from "./fields";
import { defineTemplate } from "./types";

export const webhookEndpointDisabled = defineTemplate({
  description:
    "To an organization's owners: one of its webhook endpoints failed every delivery for 5 days, so it was disabled.",
  schema: z.strictObject({
    name: displayText(80).optional(),
    organization_name: displayText(120),
    /** The receiver's URL, shown as text (never a link: it is whatever the organization typed). */
    endpoint_url: displayText(2048),
    failing_since: z.iso.datetime(),
    disabled_at: z.iso.datetime(),
    /** The last attempt's HTTP status or error code (`timeout`, `network_error` …), when known. */
    last_failure: displayText(60).optional(),
    /** Where the owner reviews the endpoint and its deliveries. */
    manage_url: httpUrl,
  }),
  compose: (data, site) => ({
    subject: `A webhook endpoint of ${data.organization_name} was disabled`,
    preheader: "Every delivery to it failed for 5 days; fix the receiver, then turn the endpoint back on.",
    heading: "A webhook endpoint was disabled",
    blocks: [
      { kind: "paragraph", text: [data.name ? `Hi ${data.name},` : "Hi,"] },
      {
        kind: "paragraph",
        text: [
          "Every delivery to a webhook endpoint of ",
          { strong: data.organization_name },
          " has failed for 5 days, so we stopped sending it events.",
        ],
      },
      {
        kind: "details",
        rows: [
          ["Endpoint", data.endpoint_url],
          ["Failing since", formatUtc(data.failing_since)],
          ["Disabled", formatUtc(data.disabled_at)],
          ...(data.last_failure ? [["Last failure", data.last_failure] as const] : []),
        ],
      },
      {
        kind: "paragraph",
        text: [
          "Fix the receiver, then turn the endpoint back on (PATCH it with enabled: true). Its delivery log shows each attempt's answer, and failed deliveries can be retried one by one.",
        ],
      },
      { kind: "button", label: "Review the endpoint", url: data.manage_url },
    ],
    reason: `You received this email because you own ${data.organization_name} on ${site.appName}.`,
  }),
});
