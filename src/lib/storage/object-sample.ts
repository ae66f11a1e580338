/** The first bytes of an uploaded object, for checks that look at its start (magic numbers, image headers). */

/**
 * Up to `limit` bytes from the start of `key` (all of it when `size` is smaller): one
 * range read, so the rest of a large object never leaves R2. Null when it is gone.
 */
export async function readObjectStart(
  bucket: R2Bucket,
  key: string,
  size: number,
  limit: number,
): Promise<Uint8Array | null> {
  const object = await bucket.get(key, { range: { offset: 0, length: Math.min(size, limit) } });
  return object ? new Uint8Array(await object.arrayBuffer()) : null;
}
