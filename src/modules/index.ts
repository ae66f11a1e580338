/** The feature modules the app mounts, in order. Adding a module is one line here. */
import type { AppRouter } from "../lib/create-router";
import { authRouter, jwksRouter } from "./auth/auth.index";
import { healthRouter } from "./health/health.index";
import { usersRouter } from "./users/users.index";

export const modules: Array<{ path: string; router: AppRouter }> = [
  { path: "/", router: healthRouter },
  { path: "/", router: jwksRouter },
  { path: "/api/v1/auth", router: authRouter },
  { path: "/api/v1/users", router: usersRouter },
];
