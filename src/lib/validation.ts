/** Turns zod issues into the API's field errors: body fields as JSON pointers, the rest by parameter name. */
import type { z } from "zod";
import { type FieldError, ProblemError } from "./problem";

export type ValidationTarget = "json" | "form" | "query" | "param" | "header" | "cookie";

const LOCATIONS: Partial<Record<ValidationTarget, FieldError["location"]>> = {
  query: "query",
  param: "path",
  header: "header",
};

/** RFC 6901: "~" → "~0", "/" → "~1". */
function pointerSegment(segment: PropertyKey): string {
  return String(segment).replaceAll("~", "~0").replaceAll("/", "~1");
}

export function toFieldErrors(issues: readonly z.core.$ZodIssue[], target: ValidationTarget): FieldError[] {
  const location = LOCATIONS[target];
  const errors: FieldError[] = [];
  for (const issue of issues) {
    // An unrecognized key is one issue naming several keys; report each key as its own field.
    const keys =
      issue.code === "unrecognized_keys" ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
    for (const path of keys) {
      const detail = issue.code === "unrecognized_keys" ? "Unknown field." : issue.message;
      if (location) {
        errors.push({ parameter: path.map(String).join(".") || "(all)", location, detail });
      } else {
        errors.push({ pointer: path.map((segment) => `/${pointerSegment(segment)}`).join(""), detail });
      }
    }
  }
  return errors;
}

export function validationProblem(error: z.ZodError, target: ValidationTarget): ProblemError {
  const errors = toFieldErrors(error.issues, target);
  const names = errors
    .map((e) => e.pointer ?? e.parameter)
    .filter((name) => name !== undefined && name !== "")
    .slice(0, 3);
  return new ProblemError({
    status: 400,
    code: "validation_failed",
    detail: names.length > 0 ? `Invalid ${names.join(", ")}.` : "The request body is not valid.",
    errors,
  });
}
