/**
 * A real KV namespace behind a switch: while `down` is set, every get and put fails as
 * KV does in an outage (the only fault injection here; the data path is the real binding).
 */
export function kvWithOutage(kv: KVNamespace) {
  const state = { down: false };
  const fail = (verb: string) => Promise.reject(new Error(`KV ${verb} failed: 503 Service Unavailable`));
  const namespace = {
    get: (key: string) => (state.down ? fail("GET") : kv.get(key)),
    put: (key: string, value: string, options?: KVNamespacePutOptions) =>
      state.down ? fail("PUT") : kv.put(key, value, options),
  } as unknown as KVNamespace;
  return { kv: namespace, state };
}
