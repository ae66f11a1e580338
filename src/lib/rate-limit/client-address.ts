/**
 * The client's address, from CF-Connecting-IP, and the bucket it is counted under.
 *
 * Cloudflare's edge sets CF-Connecting-IP, but a request that did not come through it
 * (a service binding, a local or test client) can send anything there: a hostname, a
 * 2,000-character string. So the header is parsed strictly (Hono's own address parser)
 * and anything that is not one IPv4 or IPv6 address is treated as absent: it never
 * reaches a rate-limit key, an audit row or a session's `ip`.
 *
 * Buckets: IPv4 as is; IPv6 by its /64 prefix, because one subscriber usually holds a
 * whole /64 and could otherwise rotate through addresses to get a fresh budget each
 * time. No usable address is counted as "unknown", one bucket shared by every such
 * request: a shared budget is safer than none (a client must not get an unlimited one
 * by sending a header that is not an address).
 */
import {
  convertIPv4BinaryToString,
  convertIPv4MappedIPv6ToIPv4,
  convertIPv4ToBinary,
  convertIPv6BinaryToString,
  convertIPv6ToBinary,
  distinctRemoteAddr,
  isIPv4MappedIPv6,
} from "hono/utils/ipaddr";

export const UNKNOWN_ADDRESS = "unknown";

/** Four decimal octets 0–255 without leading zeros: the only IPv4 text the parser gives back unchanged. */
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The longest textual IPv6 address (eight groups, the last two as dotted IPv4) has 45 characters. */
const MAX_ADDRESS_LENGTH = 45;

/**
 * The address in its canonical text (IPv6 lower-case and compressed; an IPv4-mapped IPv6
 * as its IPv4), or undefined when the header is missing or is not exactly one address.
 */
export function clientIp(header: string | null | undefined): string | undefined {
  const value = header?.trim();
  // A zone id (`fe80::1%eth0`) names an interface of the sender's machine: never a client's address.
  if (!value || value.length > MAX_ADDRESS_LENGTH || value.includes("%")) return undefined;
  // Already canonical IPv4, as Cloudflare sends it: what the parser below would return, without
  // its BigInt round trip on every request.
  if (CANONICAL_IPV4.test(value)) return value;
  try {
    switch (distinctRemoteAddr(value)) {
      case "IPv4":
        return convertIPv4BinaryToString(convertIPv4ToBinary(value));
      case "IPv6": {
        const binary = convertIPv6ToBinary(value);
        return isIPv4MappedIPv6(binary)
          ? convertIPv4BinaryToString(convertIPv4MappedIPv6ToIPv4(binary))
          : convertIPv6BinaryToString(binary);
      }
      default:
        return undefined;
    }
  } catch {
    return undefined; // the parser throws on anything it cannot read: not an address
  }
}

/** The bucket a client is counted under: its IPv4 address, its IPv6 /64, or "unknown". */
export function addressBucket(header: string | null | undefined): string {
  const address = clientIp(header);
  if (!address) return UNKNOWN_ADDRESS;
  if (!address.includes(":")) return address;
  const prefix = convertIPv6ToBinary(address) >> 64n;
  const hextets = [48n, 32n, 16n, 0n].map((shift) => ((prefix >> shift) & 0xffffn).toString(16));
  return `${hextets.join(":")}::/64`;
}
