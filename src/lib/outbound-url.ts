/**
 * Whether a URL someone gave us (a webhook endpoint today; a push endpoint or an
 * identity provider tomorrow) may be the target of a request the Worker makes. In
 * `strict` mode (deployed environments) it must be https to a public host:
 *
 * - no IP literal in a private, loopback, link-local, CGNAT, multicast, documentation
 *   or otherwise reserved range, IPv4 or IPv6 (IPv4-mapped and NAT64 addresses are
 *   judged by the IPv4 address they carry). The WHATWG URL parser has already turned
 *   every spelling of an address into one form (`127.1`, `0x7f000001`, `017700000001`
 *   → `127.0.0.1`; `[::ffff:127.0.0.1]` → `[::ffff:7f00:1]`), so it is checked once;
 * - no local names: `localhost`, `*.localhost`, `*.local`, `*.internal`, `*.localdomain`,
 *   `*.home.arpa`, `*.lan`, or a single label with no dot (`intranet`), trailing dot or not;
 * - the default port, or one from 1024 up: ports below are system services (SSH, SMTP …)
 *   no receiver runs on, and refusing them takes away a way to aim requests at them.
 *
 * Anywhere, a URL must be http(s) and carry no user name or password (they would be
 * stored and shown with the URL). Outside strict mode, any host is accepted, so a
 * receiver on http://localhost or http://127.0.0.1 works in development.
 *
 * Names are not resolved: a public name whose DNS answers a private address passes.
 * The Worker's requests leave from Cloudflare's network, where no private network of
 * ours is reachable; the literal and local-name rules are what a resolver-free check
 * can enforce, and they are enforced again at every delivery.
 */

export type OutboundUrlVerdict = { ok: true; url: string } | { ok: false; reason: string };

export const MAX_OUTBOUND_URL_LENGTH = 2048;

const LOCAL_SUFFIXES = ["localhost", "local", "internal", "localdomain", "home.arpa", "lan"];

/** [network, prefix length] pairs of IPv4 space that is not public unicast. */
const BLOCKED_IPV4: ReadonlyArray<readonly [string, number]> = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata services live here)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and the broadcast address
];

function ipv4ToNumber(address: string): number | null {
  const parts = address.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

function ipv4Blocked(value: number): boolean {
  return BLOCKED_IPV4.some(([network, bits]) => {
    const base = ipv4ToNumber(network) as number;
    const size = 2 ** (32 - bits);
    return value >= base && value < base + size;
  });
}

/** The eight 16-bit groups of an IPv6 address (without brackets), or null. */
export function parseIpv6(text: string): number[] | null {
  let address = text;
  let tail: number[] = [];
  // A trailing dotted IPv4 address (::ffff:1.2.3.4) stands for the last two groups.
  const dotted = /^(.*):(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) {
    const v4 = ipv4ToNumber(dotted[2] as string);
    if (v4 === null) return null;
    tail = [Math.floor(v4 / 65536), v4 % 65536];
    const head = dotted[1] as string;
    address = head.endsWith(":") ? `${head}:` : head;
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0] as string);
  const rest = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  if (![...head, ...rest].every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return null;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  const hex = (group: string) => Number.parseInt(group, 16);
  return [...head.map(hex), ...new Array<number>(8 - given).fill(0), ...rest.map(hex), ...tail];
}

function ipv6Blocked(groups: number[]): boolean {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const embeddedV4 = g6 * 65536 + g7;
  // ::ffff:a.b.c.d (IPv4-mapped) and 64:ff9b::a.b.c.d (NAT64) reach the IPv4 address they carry.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff)
    return ipv4Blocked(embeddedV4);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return ipv4Blocked(embeddedV4);
  }
  // Only global unicast (2000::/3) is public; that excludes ::, ::1, fc00::/7, fe80::/10, ff00::/8 …
  if ((g0 & 0xe000) !== 0x2000) return true;
  if (g0 === 0x2001 && g1 < 0x200) return true; // 2001::/23 protocol assignments (Teredo …)
  if (g0 === 0x2001 && g1 === 0xdb8) return true; // documentation
  if (g0 === 0x2002) return true; // 6to4: carries an IPv4 address of any kind
  if (g0 === 0x3fff && g1 < 0x1000) return true; // documentation (3fff::/20)
  return false;
}

function localName(hostname: string): boolean {
  if (!hostname.includes(".")) return true;
  return LOCAL_SUFFIXES.some((suffix) => hostname === suffix || hostname.endsWith(`.${suffix}`));
}

export function checkOutboundUrl(raw: string, options: { strict: boolean }): OutboundUrlVerdict {
  if (raw.length > MAX_OUTBOUND_URL_LENGTH) {
    return { ok: false, reason: `must be at most ${MAX_OUTBOUND_URL_LENGTH} characters` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "must be an absolute URL, e.g. https://example.com/webhooks" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { ok: false, reason: "must be an http(s) URL" };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, reason: "must not contain a user name or password" };
  }
  if (!options.strict) return { ok: true, url: url.href };

  if (url.protocol !== "https:") return { ok: false, reason: "must use https" };
  const hostname = url.hostname.replace(/\.$/, "");
  const publicAddress = "must be a public host, not a private, loopback, link-local or reserved address";
  if (hostname.startsWith("[")) {
    const groups = parseIpv6(hostname.slice(1, -1));
    if (!groups || ipv6Blocked(groups)) return { ok: false, reason: publicAddress };
  } else {
    const v4 = ipv4ToNumber(hostname);
    if (v4 !== null) {
      if (ipv4Blocked(v4)) return { ok: false, reason: publicAddress };
    } else if (localName(hostname)) {
      return {
        ok: false,
        reason: "must be a public host name (not localhost, *.local, *.internal or a name without a dot)",
      };
    }
  }
  if (url.port !== "" && Number(url.port) !== 443 && Number(url.port) < 1024) {
    return { ok: false, reason: "must use port 443 or a port from 1024 up" };
  }
  return { ok: true, url: url.href };
}

/** `localhost`, `*.localhost`, 127.0.0.0/8 and ::1: the machine itself. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4ToNumber(host);
  if (v4 !== null) return v4 >>> 24 === 127;
  if (!host.startsWith("[")) return false;
  const groups = parseIpv6(host.slice(1, -1));
  return groups?.slice(0, 7).every((group) => group === 0) === true && groups[7] === 1;
}

/** A host that strict mode refuses: not a public internet address or name. */
export function isPrivateHost(hostname: string): boolean {
  return !checkOutboundUrl(`https://${hostname}/`, { strict: true }).ok;
}

/**
 * For URLs a person registers for the Worker to call (push endpoints): why `url` may not
 * be fetched, or null. Production is strict mode; elsewhere a loopback host is accepted
 * too (over http as well), so a local receiver works on a laptop, and any other host
 * must still pass strict mode.
 */
export function outboundUrlRefusal(url: URL, options: { production: boolean }): string | null {
  if (!options.production && isLoopbackHost(url.hostname)) {
    const verdict = checkOutboundUrl(url.href, { strict: false });
    return verdict.ok ? null : verdict.reason;
  }
  const verdict = checkOutboundUrl(url.href, { strict: true });
  return verdict.ok ? null : verdict.reason;
}
