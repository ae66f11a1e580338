import { z } from "@hono/zod-openapi";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { EmailSchema } from "../users/users.schemas";

export const preRegistrationExample = {
  id: "0190c6c9-2b3c-7d4e-8f5a-6b7c8d9e0f1a",
  email: "grace@example.com",
  created_at: "2026-11-21T10:04:12.000Z",
};

export const PreRegistrationSchema = z
  .object({ id: z.uuid(), email: z.email(), created_at: z.iso.datetime() })
  .openapi("PreRegistration", { example: preRegistrationExample });

export type PreRegistrationDto = z.infer<typeof PreRegistrationSchema>;

export const PreRegistrationIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: preRegistrationExample.id }),
});

export const CreatePreRegistrationSchema = z
  .strictObject({ email: EmailSchema })
  .openapi("CreatePreRegistrationRequest", { example: { email: "grace@example.com" } });

export const PRE_REGISTRATION_SORT_FIELDS = ["created_at", "email"] as const;

export const ListPreRegistrationsQuery = listQuery({
  sort: PRE_REGISTRATION_SORT_FIELDS,
  defaultSort: "-created_at",
}).safeExtend({
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .openapi({
      param: { name: "q", in: "query" },
      description: "Case-insensitive substring of the email.",
      example: "example.com",
    }),
});

export const PreRegistrationPageSchema = pageSchema(PreRegistrationSchema, "PreRegistrationPage");
