import type { Bindings } from "../../env";
import { DurableObjectRateLimitStore } from "./durable-object-store";
import { KvRateLimitStore } from "./kv-store";
import type { RateLimitStore, RateLimitStoreKind } from "./store";

const stores = new WeakMap<object, Map<RateLimitStoreKind, RateLimitStore>>();

/** The store RATE_LIMIT_STORE names, over this env's bindings; built once per env object. */
export function rateLimitStoreFor(env: Bindings, kind: RateLimitStoreKind): RateLimitStore {
  let byKind = stores.get(env);
  if (!byKind) {
    byKind = new Map();
    stores.set(env, byKind);
  }
  let store = byKind.get(kind);
  if (!store) {
    store =
      kind === "durable_object"
        ? new DurableObjectRateLimitStore(env.RATE_LIMITER)
        : new KvRateLimitStore(env.RATE_LIMIT_KV);
    byKind.set(kind, store);
  }
  return store;
}
