/** The feature modules the app mounts, in order. Adding a module is one line here. */
import type { AppRouter } from "../lib/create-router";
import { healthRouter } from "./health/health.index";

export const modules: Array<{ path: string; router: AppRouter }> = [{ path: "/", router: healthRouter }];
