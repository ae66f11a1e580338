/**
 * A User-Agent reduced to the family a person recognises: "Firefox on Windows",
 * "Safari on iOS", "curl". Versions are left out on purpose: a browser update is
 * not a new device. Used to describe sessions in new-device alerts and to decide
 * whether a sign-in comes from a device the account has used before.
 */

const BROWSERS: Array<[RegExp, string]> = [
  // Order matters: most Chromium browsers also say "Chrome", and every iOS browser says "Safari".
  [/\bEdg(e|A|iOS)?\//, "Edge"],
  [/\bOPR\/|\bOpera\b/, "Opera"],
  [/\bSamsungBrowser\//, "Samsung Internet"],
  [/\bVivaldi\//, "Vivaldi"],
  [/\bYaBrowser\//, "Yandex Browser"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  [/\bCriOS\/|\bChrome\/|\bChromium\//, "Chrome"],
  [/\bVersion\/[\d.]+.*\bSafari\/|\bMobile\/\w+ Safari\//, "Safari"],
];

/** Clients that are not browsers; named alone, without an OS. */
const TOOLS: Array<[RegExp, string]> = [
  [/^curl\//i, "curl"],
  [/^Wget\//i, "Wget"],
  [/^PostmanRuntime\//, "Postman"],
  [/^insomnia\//i, "Insomnia"],
  [/^HTTPie\//i, "HTTPie"],
  [/^okhttp\//i, "OkHttp"],
  [/^python-requests\//i, "Python requests"],
  [/^python-httpx\//i, "Python httpx"],
  [/^axios\//i, "axios"],
  [/^node-fetch\b|^undici\b|^node\b/i, "Node.js"],
  [/^Go-http-client\//, "Go"],
  [/^Dart\//, "Dart"],
];

const SYSTEMS: Array<[RegExp, string]> = [
  [/\b(iPhone|iPad|iPod)\b/, "iOS"],
  [/\bAndroid\b/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bLinux\b|\bX11\b/, "Linux"],
];

export const UNKNOWN_DEVICE = "Unknown device";

const first = (patterns: Array<[RegExp, string]>, text: string) =>
  patterns.find(([pattern]) => pattern.test(text))?.[1];

/** "Firefox on Windows", "Chrome on Android", "curl", "macOS device", or "Unknown device". */
export function describeDevice(userAgent: string | null | undefined): string {
  const ua = userAgent?.trim() ?? "";
  if (ua === "") return UNKNOWN_DEVICE;
  const tool = first(TOOLS, ua);
  if (tool) return tool;
  const browser = first(BROWSERS, ua);
  const system = first(SYSTEMS, ua);
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `${system} device`;
  return UNKNOWN_DEVICE;
}
