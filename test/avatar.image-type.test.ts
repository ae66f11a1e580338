/** The magic-byte inspector behind avatar uploads (src/lib/image-type.ts). */
import { describe, expect, it } from "vitest";
import { inspectImage } from "../src/lib/image-type";
import { GIF, JPEG, PHP_SHELL, PNG, pngClaiming, WEBP } from "./support/images";

const ascii = (text: string) => new TextEncoder().encode(text);

/** A WebP whose first chunk is `chunk` followed by `rest`. */
function webp(chunk: string, rest: number[]): Uint8Array {
  return Uint8Array.from([
    ...ascii("RIFF"),
    0,
    0,
    0,
    0,
    ...ascii("WEBP"),
    ...ascii(chunk),
    0,
    0,
    0,
    0,
    ...rest,
  ]);
}

describe("inspectImage", () => {
  it.each([
    ["PNG", PNG, "image/png", "png"],
    ["GIF", GIF, "image/gif", "gif"],
    ["JPEG", JPEG, "image/jpeg", "jpg"],
    ["WebP (lossless)", WEBP, "image/webp", "webp"],
  ])("recognises a %s and reads its size", (_name, bytes, mediaType, extension) => {
    expect(inspectImage(bytes)).toEqual({ ok: true, type: { mediaType, extension }, width: 1, height: 1 });
  });

  it("reads lossy (VP8) and extended (VP8X) WebP headers", () => {
    const lossy = webp("VP8 ", [0, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
    expect(inspectImage(lossy)).toMatchObject({ ok: true, width: 640, height: 480 });
    const extended = webp("VP8X", [0, 0, 0, 0, 0xff, 0x03, 0x00, 0xff, 0x02, 0x00]);
    expect(inspectImage(extended)).toMatchObject({ ok: true, width: 1024, height: 768 });
  });

  it("calls every cut of a real image inside its header truncated, never an image", () => {
    for (const image of [PNG, GIF, JPEG, WEBP]) {
      const whole = inspectImage(image);
      for (let length = 1; length < image.length; length++) {
        const cut = inspectImage(image.subarray(0, length));
        if (cut.ok) {
          // Once the header is complete the rest (pixel data) is not needed to know the image.
          expect(cut).toEqual(whole);
          continue;
        }
        expect(cut.reason, `${length} bytes`).toBe("truncated");
        expect(cut.type).toEqual(whole.ok ? whole.type : undefined);
      }
    }
  });

  it("refuses what is not one of the four formats", () => {
    for (const bytes of [
      PHP_SHELL,
      ascii("%PDF-1.7\n"),
      ascii('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      Uint8Array.from([...ascii("RIFF"), 0, 0, 0, 0, ...ascii("WAVEfmt ")]),
      ascii("GIF90a"),
      Uint8Array.from([0x00, 0x00, 0x01, 0x00]), // an ICO
    ]) {
      expect(inspectImage(bytes)).toMatchObject({ ok: false, reason: "unknown" });
    }
  });

  it("knows an empty upload", () => {
    expect(inspectImage(new Uint8Array())).toMatchObject({ ok: false, reason: "empty" });
  });

  it("refuses impossible headers: no pixels, too many, a PNG without IHDR, a JPEG without a frame", () => {
    expect(inspectImage(pngClaiming(0, 1))).toMatchObject({ ok: false, reason: "malformed" });
    expect(inspectImage(pngClaiming(5000, 10), 4096)).toMatchObject({ ok: false, reason: "malformed" });
    expect(inspectImage(pngClaiming(4096, 4096), 4096)).toMatchObject({
      ok: true,
      width: 4096,
      height: 4096,
    });
    expect(inspectImage(pngClaiming(2 ** 31 + 5, 1))).toMatchObject({ ok: true, width: 2 ** 31 + 5 });
    const noIhdr = PNG.slice();
    noIhdr.set(ascii("IDAT"), 12);
    expect(inspectImage(noIhdr)).toMatchObject({ ok: false, reason: "malformed" });
    // SOI then straight to the end-of-image marker.
    expect(inspectImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]))).toMatchObject({
      ok: false,
      reason: "malformed",
    });
    expect(inspectImage(webp("VP8 ", [0, 0, 0, 1, 2, 3, 0, 0, 0, 0]))).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });
});
