import { z } from "@hono/zod-openapi";
import { booleanFilter, listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";

export const FLAG_KEY_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
/** Per allow list: the whole flag set is held in every isolate's memory. */
export const MAX_ALLOW_LIST = 1_000;

export const featureFlagExample = {
  key: "new_checkout",
  description: "The redesigned checkout flow.",
  enabled: true,
  rollout_percentage: 30,
  allow_user_ids: ["0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60"],
  allow_org_ids: ["0190c6c6-3b4c-7d5e-8f6a-7b8c9d0e1f2a"],
  updated_by: "0190c6c5-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
  created_at: "2026-11-20T09:00:00.000Z",
  updated_at: "2026-11-21T10:15:02.114Z",
};

export const FlagKeySchema = z
  .string()
  .regex(FLAG_KEY_PATTERN, "Use 1–64 of a-z, 0-9, '_', '.', '-', starting with a letter.")
  .openapi({ example: "new_checkout" });

export const FlagKeyParams = z.object({
  key: FlagKeySchema.openapi({ param: { name: "key", in: "path" }, example: "new_checkout" }),
});

export const FeatureFlagSchema = z
  .object({
    key: z.string(),
    description: z.string(),
    enabled: z.boolean().openapi({ description: "Off means off for everyone, allow lists included." }),
    rollout_percentage: z.number().int().min(0).max(100).openapi({
      description:
        "Share of principals that get the flag: bucket = SHA-256(`<key>:<id>`) mod 100, on when bucket < rollout_percentage. The id is the user's (people) or the organization's (API keys), so each keeps its answer as the percentage grows.",
    }),
    allow_user_ids: z.array(z.uuid()).openapi({ description: "Always on for these users (when enabled)." }),
    allow_org_ids: z
      .array(z.uuid())
      .openapi({ description: "Always on for members and API keys of these organizations (when enabled)." }),
    updated_by: z.string().nullable().openapi({ description: "The staff user who last changed it." }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("FeatureFlag", { example: featureFlagExample });

export type FeatureFlagDto = z.infer<typeof FeatureFlagSchema>;

const idList = (what: string) =>
  z
    .array(z.uuid().toLowerCase())
    .max(MAX_ALLOW_LIST)
    .default([])
    .transform((ids) => [...new Set(ids)])
    .openapi({ description: `${what} (at most ${MAX_ALLOW_LIST}); duplicates are dropped. Omitted: none.` });

export const PutFeatureFlagSchema = z
  .strictObject({
    enabled: z.boolean(),
    rollout_percentage: z.number().int().min(0).max(100),
    allow_user_ids: idList("Users who always get the flag"),
    allow_org_ids: idList("Organizations whose members and keys always get the flag"),
    description: z.string().trim().max(500).default(""),
  })
  .openapi("PutFeatureFlagRequest", {
    description: "The whole flag: fields left out are reset (empty allow lists, empty description).",
    example: {
      enabled: true,
      rollout_percentage: 30,
      allow_user_ids: ["0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60"],
      allow_org_ids: [],
      description: "The redesigned checkout flow.",
    },
  });

export type PutFeatureFlagInput = z.infer<typeof PutFeatureFlagSchema>;

export const ListFeatureFlagsQuery = listQuery({
  sort: ["key", "created_at", "updated_at"],
  defaultSort: "key",
  filters: { "filter[enabled]": booleanFilter },
});

export const FeatureFlagPageSchema = pageSchema(FeatureFlagSchema, "FeatureFlagPage");

export const EvaluatedFlagsSchema = z
  .object({
    flags: z
      .record(z.string(), z.boolean())
      .openapi({ description: "Every flag by key: whether it is on for you." }),
  })
  .openapi("EvaluatedFeatureFlags", { example: { flags: { new_checkout: true, dark_mode: false } } });
