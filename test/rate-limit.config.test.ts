/** Rate-limit configuration (RATE_LIMIT_STORE, RATE_LIMIT_POLICIES), the default policies and address buckets. */
import { env } from "cloudflare:workers";
import { convertIPv4BinaryToString, convertIPv4ToBinary, distinctRemoteAddr } from "hono/utils/ipaddr";
import { describe, expect, it } from "vitest";
import { type Bindings, ConfigError, configSchema, getConfig } from "../src/env";
import { addressBucket, clientIp, UNKNOWN_ADDRESS } from "../src/lib/rate-limit/client-address";
import { DEFAULT_POLICIES, POLICY_NAMES, resolvePolicies } from "../src/lib/rate-limit/policies";

const parse = (vars: Record<string, string>) => configSchema.safeParse(vars);

describe("RATE_LIMIT_STORE", () => {
  it("defaults to kv and accepts durable_object", () => {
    expect(parse({}).data?.RATE_LIMIT_STORE).toBe("kv");
    expect(parse({ RATE_LIMIT_STORE: "durable_object" }).data?.RATE_LIMIT_STORE).toBe("durable_object");
  });

  it("refuses anything else when the config is first read", () => {
    expect(() => getConfig({ ...env, RATE_LIMIT_STORE: "redis" } as Bindings)).toThrow(ConfigError);
  });
});

describe("RATE_LIMIT_POLICIES", () => {
  it("parses requests per window, in seconds, minutes or hours", () => {
    const result = parse({
      RATE_LIMIT_POLICIES: '{"anonymous":"120/60","user":"900/60s","login":"5/15m","api_key":"50000/1h"}',
    });
    expect(result.data?.RATE_LIMIT_POLICIES).toEqual({
      anonymous: { limit: 120, windowSeconds: 60 },
      user: { limit: 900, windowSeconds: 60 },
      login: { limit: 5, windowSeconds: 900 },
      api_key: { limit: 50_000, windowSeconds: 3_600 },
    });
  });

  it("keeps the defaults for every policy it does not name", () => {
    const overrides = parse({ RATE_LIMIT_POLICIES: '{"login":"3/60"}' }).data?.RATE_LIMIT_POLICIES;
    const policies = resolvePolicies(overrides);
    expect(policies.login).toMatchObject({ limit: 3, windowSeconds: 60, subject: "ip" });
    expect(policies.user).toEqual(DEFAULT_POLICIES.user);
    expect(parse({}).data?.RATE_LIMIT_POLICIES).toEqual({});
  });

  it.each([
    ["not JSON", "login=5/60"],
    ["an unknown policy (a typo must not be ignored)", '{"anonymus":"60/60"}'],
    ["prose instead of a rate", '{"login":"5 per minute"}'],
    ["zero requests", '{"login":"0/60"}'],
    ["a zero window", '{"login":"5/0"}'],
    ["a window over a day", '{"login":"5/25h"}'],
    ["an unknown unit", '{"login":"5/2d"}'],
    ["a number instead of a string", '{"login":5}'],
    ["an array", '["login"]'],
  ])("refuses %s", (_, value) => {
    expect(parse({ RATE_LIMIT_POLICIES: value }).success).toBe(false);
  });
});

describe("default policies", () => {
  it("are the documented ones", () => {
    const summary = Object.fromEntries(
      POLICY_NAMES.map((name) => [
        name,
        `${DEFAULT_POLICIES[name].limit}/${DEFAULT_POLICIES[name].windowSeconds}`,
      ]),
    );
    expect(summary).toEqual({
      anonymous: "60/60",
      user: "600/60",
      api_key: "1000/60",
      login: "10/60",
      magic_request: "5/60",
      password_forgot: "5/60",
      waitlist: "10/60",
      ws_ticket: "10/60",
      email_resend: "5/60",
      register: "10/3600",
      email_change: "5/3600",
      mfa_verify: "10/60",
      provider_sign_in: "30/60",
      passkey_login: "20/60",
      passkey_register: "20/3600",
    });
    for (const name of POLICY_NAMES) expect(DEFAULT_POLICIES[name].name).toBe(name);
  });
});

describe("addressBucket", () => {
  it.each([
    ["203.0.113.9", "203.0.113.9"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002::1", "2001:db8:1:2::/64"],
    ["2001:DB8:1:2::ffff", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::ffff:198.51.100.7", "198.51.100.7"],
    [undefined, UNKNOWN_ADDRESS],
    ["  ", UNKNOWN_ADDRESS],
    ["2001:db8:1:2::1.2.3.4", "2001:db8:1:2::/64"],
    ["not-an-address:::", UNKNOWN_ADDRESS],
    ["x".repeat(2_000), UNKNOWN_ADDRESS],
    ["203.0.113.9, 198.51.100.1", UNKNOWN_ADDRESS],
    ["256.1.1.1", UNKNOWN_ADDRESS],
    ["2001:db8::1::2", UNKNOWN_ADDRESS],
  ])("%s → %s", (input, expected) => {
    expect(addressBucket(input)).toBe(expected);
  });
});

describe("clientIp (the request's client.ip: sessions, audit rows, API keys' last use)", () => {
  it("reads every dotted IPv4 text as Hono's parser does (the canonical ones take a shortcut)", () => {
    const octets = [
      "0",
      "1",
      "9",
      "10",
      "99",
      "100",
      "199",
      "200",
      "249",
      "250",
      "255",
      "256",
      "00",
      "01",
      "010",
      "300",
    ];
    const parsed = (text: string) => {
      try {
        return distinctRemoteAddr(text) === "IPv4"
          ? convertIPv4BinaryToString(convertIPv4ToBinary(text))
          : undefined;
      } catch {
        return undefined;
      }
    };
    let checked = 0;
    for (const a of octets)
      for (const b of ["0", "255", "01"])
        for (const c of octets)
          for (const d of ["7", "256", "00"]) {
            const text = `${a}.${b}.${c}.${d}`;
            expect(clientIp(text), text).toBe(parsed(text));
            checked += 1;
          }
    expect(checked).toBe(16 * 3 * 16 * 3);
  });

  it.each([
    ["203.0.113.9", "203.0.113.9"],
    [" 203.0.113.9 ", "203.0.113.9"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["::ffff:198.51.100.7", "198.51.100.7"],
    ["fe80::1%eth0", undefined],
    ["x".repeat(2_000), undefined],
    ["example.com", undefined],
    ["1.2.3.04", undefined],
    [undefined, undefined],
  ])("%s → %s", (input, expected) => {
    expect(clientIp(input)).toBe(expected);
  });
});
