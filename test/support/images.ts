/** Tiny real images (1×1 pixel) of each accepted format, and builders for hostile uploads. */

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

export const PNG = fromBase64(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
);
export const GIF = fromBase64("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7");
/** Progressive (SOF2). */
export const JPEG = fromBase64(
  "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=",
);
/** Lossless (VP8L). */
export const WEBP = fromBase64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==");

export const PHP_SHELL = new TextEncoder().encode("<?php system($_GET['cmd']); ?>\n");

/** `image` followed by zero bytes up to `size` bytes (the header still reads as that image). */
export function padded(image: Uint8Array, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.set(image.subarray(0, Math.min(image.length, size)));
  return bytes;
}

/** A PNG whose IHDR claims `width`×`height`. */
export function pngClaiming(width: number, height: number): Uint8Array {
  const bytes = PNG.slice();
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return bytes;
}
