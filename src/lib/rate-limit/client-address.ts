/**
 * The address a client is counted under. IPv4 as is; IPv6 by its /64 prefix,
 * because one subscriber usually holds a whole /64 and could otherwise rotate
 * through addresses to get a fresh budget each time. No address (a request that
 * did not come through Cloudflare's edge: a service binding, a local test) is
 * counted as "unknown", shared by every such request, rather than not at all.
 */
export const UNKNOWN_ADDRESS = "unknown";

const HEXTET = /^[0-9a-f]{1,4}$/;

export function addressBucket(ip: string | null | undefined): string {
  const address = ip?.trim().toLowerCase();
  if (!address) return UNKNOWN_ADDRESS;
  if (!address.includes(":")) return address;

  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped?.[1]) return mapped[1];

  const halves = address.split("::");
  if (halves.length > 2) return address;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return address;
  const hextets = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  // Something we do not parse (an embedded IPv4 tail, say) is still a stable key: count it as given.
  if (!hextets.every((part) => HEXTET.test(part))) return address;
  return `${hextets
    .slice(0, 4)
    .map((part) => part.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
