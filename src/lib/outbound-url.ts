/**
 * URLs a user hands us and the Worker will later fetch (push endpoints today):
 * whether that fetch could be aimed at something that is not the public internet.
 * Only literal hosts can be judged here (a Worker has no DNS lookup to consult), and
 * the WHATWG URL parser has already normalised the odd spellings (`http://2130706433/`,
 * `http://0x7f.1/` are `127.0.0.1` by the time we see them).
 */

/** `localhost`, `*.localhost`, 127.0.0.0/8 and ::1: the machine itself. */
export function isLoopbackHost(hostname: string): boolean {
  const host = bare(hostname);
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4(host);
  if (v4) return v4[0] === 127;
  const v6 = ipv6(host);
  return v6?.slice(0, 7).every((part) => part === 0) === true && v6[7] === 1;
}

/**
 * A host that is not a public internet address: loopback, private (RFC 1918, fc00::/7),
 * carrier-grade NAT, link-local (169.254/16 with the cloud metadata services, fe80::/10),
 * documentation, benchmarking, multicast and reserved ranges, IPv4-mapped and NAT64 forms of
 * those, and names that only resolve locally (`localhost`, `.local`, `.internal`, `.home.arpa`).
 */
export function isPrivateHost(hostname: string): boolean {
  const host = bare(hostname);
  if (isLoopbackHost(host)) return true;
  const v4 = ipv4(host);
  if (v4) return isPrivateIpv4(v4);
  const v6 = ipv6(host);
  if (v6) return isPrivateIpv6(v6);
  // A name that only resolves inside some network: a single label (`intranet`), `.local`, `.internal` …
  return !host.includes(".") || /(^|\.)(local|internal|localdomain|home\.arpa)$/.test(host);
}

/**
 * Why `url` may not be fetched on a user's behalf, or null when it may: https only, no
 * credentials in it, a public host; outside production a loopback host is also accepted
 * (over http too), so a local receiver works on a laptop.
 */
export function outboundUrlRefusal(url: URL, options: { production: boolean }): string | null {
  const loopbackAllowed = !options.production && isLoopbackHost(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopbackAllowed)) {
    return options.production
      ? "must be an https URL"
      : "must be an https URL (http only for localhost or 127.0.0.1 outside production)";
  }
  if (url.username || url.password) return "must not carry a user name or password";
  if (isPrivateHost(url.hostname) && !loopbackAllowed) {
    return "must be on a public host (not localhost, a private, loopback or link-local address)";
  }
  return null;
}

const bare = (hostname: string) =>
  hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");

function ipv4(host: string): number[] | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!match) return null;
  const parts = match.slice(1).map(Number);
  return parts.every((part) => part <= 255) ? parts : null;
}

/** The eight 16-bit groups of an IPv6 literal (with `::` and a trailing dotted quad expanded), or null. */
function ipv6(host: string): number[] | null {
  if (!host.includes(":")) return null;
  let text = host;
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (dotted?.[1]) {
    const v4 = ipv4(dotted[1]);
    if (!v4) return null;
    text = `${text.slice(0, -dotted[1].length)}${((v4[0] ?? 0) * 256 + (v4[1] ?? 0)).toString(16)}:${((v4[2] ?? 0) * 256 + (v4[3] ?? 0)).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!all.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  return all.map((group) => Number.parseInt(group, 16));
}

function isPrivateIpv4([a = 0, b = 0, c = 0]: number[]): boolean {
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) || // IETF protocol assignments, TEST-NET-1
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    (a === 198 && b === 51 && c === 100) || // TEST-NET-2
    (a === 203 && b === 0 && c === 113) || // TEST-NET-3
    a >= 224 // multicast, reserved, broadcast
  );
}

function isPrivateIpv6(groups: number[]): boolean {
  const [first = 0] = groups;
  const zeros = (count: number) => groups.slice(0, count).every((group) => group === 0);
  const embeddedV4 = () => [
    (groups[6] ?? 0) >> 8,
    (groups[6] ?? 0) & 0xff,
    (groups[7] ?? 0) >> 8,
    (groups[7] ?? 0) & 0xff,
  ];
  if (zeros(8)) return true; // ::
  if (zeros(7) && groups[7] === 1) return true; // ::1
  if (zeros(5) && groups[5] === 0xffff) return isPrivateIpv4(embeddedV4()); // ::ffff:a.b.c.d
  if (first === 0x64 && groups[1] === 0xff9b) return isPrivateIpv4(embeddedV4()); // NAT64
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 || // multicast
    (first === 0x2001 && groups[1] === 0x0db8) // documentation
  );
}
