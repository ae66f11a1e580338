/**
 * The SSRF rules of src/lib/outbound-url.ts, one row per URL: strict (staging and
 * production) refuses every private, loopback, link-local, reserved or local target in
 * every spelling the URL parser accepts; relaxed (development, test) accepts them so a
 * local receiver works. Credentials in a URL are refused in both.
 */
import { describe, expect, it } from "vitest";
import { checkOutboundUrl, parseIpv6 } from "../src/lib/outbound-url";

type Row = [url: string, strict: boolean, relaxed: boolean, why: string];

const ROWS: Row[] = [
  // Public targets
  ["https://hooks.example.com/edge", true, true, "a public https host"],
  ["https://hooks.example.com:8443/edge", true, true, "a port from 1024 up"],
  ["https://hooks.example.com:443/edge", true, true, "the https port, spelled out"],
  ["https://8.8.8.8/", true, true, "a public IPv4 literal"],
  ["https://172.32.0.1/", true, true, "just outside 172.16/12"],
  ["https://100.128.0.1/", true, true, "just outside 100.64/10"],
  ["https://[2606:4700:4700::1111]/", true, true, "a global IPv6 literal"],
  ["https://[::ffff:8.8.8.8]/", true, true, "IPv4-mapped, of a public address"],
  ["https://HOOKS.Example.COM./x", true, true, "case and a trailing dot"],
  // Loopback, every spelling
  ["https://127.0.0.1/", false, true, "loopback"],
  ["https://127.1/", false, true, "loopback, short form"],
  ["https://0x7f000001/", false, true, "loopback, hexadecimal"],
  ["https://017700000001/", false, true, "loopback, octal"],
  ["https://2130706433/", false, true, "loopback, decimal"],
  ["https://0x7f.1/", false, true, "loopback, mixed"],
  ["https://[::1]/", false, true, "IPv6 loopback"],
  ["https://[0:0:0:0:0:0:0:1]/", false, true, "IPv6 loopback, long form"],
  ["https://[::ffff:127.0.0.1]/", false, true, "IPv4-mapped loopback"],
  ["https://[::ffff:7f00:1]/", false, true, "IPv4-mapped loopback, hex groups"],
  ["https://[64:ff9b::7f00:1]/", false, true, "NAT64 of loopback"],
  ["https://localhost/", false, true, "localhost"],
  ["https://localhost./", false, true, "localhost, trailing dot"],
  ["https://LocalHost/", false, true, "localhost, any case"],
  ["https://foo.localhost/", false, true, "*.localhost"],
  // Private, link-local, CGNAT, unique-local, multicast, reserved
  ["https://10.0.0.1/", false, true, "10/8"],
  ["https://10.255.255.255/", false, true, "10/8, last address"],
  ["https://172.16.0.1/", false, true, "172.16/12"],
  ["https://172.31.255.255/", false, true, "172.16/12, last address"],
  ["https://192.168.0.1/", false, true, "192.168/16"],
  ["https://169.254.169.254/latest/meta-data", false, true, "link-local (cloud metadata)"],
  ["https://100.64.0.1/", false, true, "100.64/10 (CGNAT)"],
  ["https://100.127.255.255/", false, true, "100.64/10, last address"],
  ["https://0.0.0.0/", false, true, "this network"],
  ["https://224.0.0.1/", false, true, "multicast"],
  ["https://255.255.255.255/", false, true, "broadcast"],
  ["https://240.0.0.1/", false, true, "reserved"],
  ["https://192.0.2.10/", false, true, "documentation"],
  ["https://198.18.0.1/", false, true, "benchmarking"],
  ["https://[::]/", false, true, "IPv6 unspecified"],
  ["https://[fc00::1]/", false, true, "fc00::/7 unique local"],
  ["https://[fdff:ffff::1]/", false, true, "fc00::/7 unique local, fd half"],
  ["https://[fe80::1]/", false, true, "fe80::/10 link-local"],
  ["https://[febf::1]/", false, true, "fe80::/10, upper end"],
  ["https://[ff02::1]/", false, true, "IPv6 multicast"],
  ["https://[2001:db8::1]/", false, true, "IPv6 documentation"],
  ["https://[::ffff:10.0.0.1]/", false, true, "IPv4-mapped private"],
  ["https://[::ffff:169.254.169.254]/", false, true, "IPv4-mapped link-local"],
  ["https://[2002:7f00:1::]/", false, true, "6to4"],
  // Local names
  ["https://printer.local/", false, true, "*.local (mDNS)"],
  ["https://metadata.google.internal/", false, true, "*.internal"],
  ["https://router.home.arpa/", false, true, "*.home.arpa"],
  ["https://intranet/", false, true, "a single label"],
  // Scheme, port, credentials
  ["http://hooks.example.com/", false, true, "plain http"],
  ["http://127.0.0.1:8787/hook", false, true, "a local receiver over http"],
  ["http://localhost:3000/hook", false, true, "a local receiver by name"],
  ["https://hooks.example.com:22/", false, true, "a system port (SSH)"],
  ["https://hooks.example.com:25/", false, true, "a system port (SMTP)"],
  ["https://user@hooks.example.com/", false, false, "a user name"],
  ["https://user:secret@hooks.example.com/", false, false, "a user name and password"],
  ["http://:secret@localhost/", false, false, "a password alone"],
  ["ftp://hooks.example.com/", false, false, "not http(s)"],
  ["javascript:alert(1)", false, false, "not http(s)"],
  ["/relative/path", false, false, "not absolute"],
  ["", false, false, "empty"],
  [`https://hooks.example.com/${"a".repeat(2100)}`, false, false, "longer than 2048 characters"],
];

describe("checkOutboundUrl", () => {
  for (const [url, strict, relaxed, why] of ROWS) {
    it(`${why}: ${url.slice(0, 60)} → strict ${strict ? "accepts" : "refuses"}, relaxed ${relaxed ? "accepts" : "refuses"}`, () => {
      const inProduction = checkOutboundUrl(url, { strict: true });
      const elsewhere = checkOutboundUrl(url, { strict: false });
      expect(inProduction.ok, inProduction.ok ? "" : inProduction.reason).toBe(strict);
      expect(elsewhere.ok, elsewhere.ok ? "" : elsewhere.reason).toBe(relaxed);
      if (!inProduction.ok) expect(inProduction.reason).toMatch(/^must /);
    });
  }

  it("answers the URL as the parser normalised it", () => {
    expect(checkOutboundUrl("HTTPS://Hooks.Example.com:443/a/../b", { strict: true })).toEqual({
      ok: true,
      url: "https://hooks.example.com/b",
    });
  });
});

describe("parseIpv6", () => {
  it.each([
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["::1", [0, 0, 0, 0, 0, 0, 0, 1]],
    ["1::", [1, 0, 0, 0, 0, 0, 0, 0]],
    ["2001:db8::8:800:200c:417a", [0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a]],
    ["::ffff:1.2.3.4", [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]],
    ["1:2:3:4:5:6:7:8", [1, 2, 3, 4, 5, 6, 7, 8]],
  ])("%s", (text, groups) => {
    expect(parseIpv6(text)).toEqual(groups);
  });

  it.each(["1:2:3:4:5:6:7:8:9", "1::2::3", ":1:2", "12345::", "::g", "1:2:3:4:5:6:7"])(
    "refuses %s",
    (text) => {
      expect(parseIpv6(text)).toBeNull();
    },
  );
});
