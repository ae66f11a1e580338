/**
 * Money as the API and the database see it. The API speaks decimal strings
 * ("999.99"); the database stores integers in the currency's minor units (ISO
 * 4217: cents for USD, yen for JPY, fils for KWD), so no float ever touches a price.
 *
 * `price_thousandths` is the same amount at a fixed scale of 3 decimals whatever the
 * currency (no currency here has more), so amounts in different currencies compare
 * by their face value in one indexed column.
 */

/** ISO 4217 currencies with no minor unit. */
const ZERO_DECIMAL = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF";
/** ISO 4217 currencies with three decimals. */
const THREE_DECIMAL = "BHD IQD JOD KWD LYD OMR TND";
/** Every other circulating ISO 4217 currency: two decimals. Funds and metals (XAU, CLF ...) are left out. */
const TWO_DECIMAL =
  "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD " +
  "CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD " +
  "HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD " +
  "MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON " +
  "RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD " +
  "TZS UAH USD UYU UZS VES XCD XCG YER ZAR ZMW ZWG";

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...ZERO_DECIMAL.split(" ").map((code) => [code, 0] as const),
  ...TWO_DECIMAL.split(" ").map((code) => [code, 2] as const),
  ...THREE_DECIMAL.split(" ").map((code) => [code, 3] as const),
]);

export const CURRENCIES: readonly string[] = [...EXPONENTS.keys()].sort();

/** Digits of the minor unit (2 for USD, 0 for JPY, 3 for KWD); undefined for a code we do not accept. */
export function currencyExponent(currency: string): number | undefined {
  return EXPONENTS.get(currency);
}

/** Up to 12 integer digits keeps every amount, even in thousandths, a safe JS integer. */
export const MAX_INTEGER_DIGITS = 12;
const DECIMAL = /^(0|[1-9]\d{0,11})(?:\.(\d{1,3}))?$/;

/** Shape of a non-negative decimal amount, at most 12 integer digits and 3 decimals. */
export const DECIMAL_AMOUNT_PATTERN = DECIMAL;

export type PriceColumns = { priceMinor: number; priceThousandths: number };

/**
 * "999.99" in USD → { priceMinor: 99999, priceThousandths: 999990 }, or a message
 * saying why the string is not a price in that currency.
 */
export function parsePrice(price: string, currency: string): PriceColumns | { error: string } {
  const exponent = currencyExponent(currency);
  if (exponent === undefined) return { error: `${currency} is not a currency this API accepts.` };
  const match = DECIMAL.exec(price);
  if (!match) {
    return { error: 'Use a decimal string such as "999.99": digits, and an optional "." with the decimals.' };
  }
  const [, whole = "0", fraction = ""] = match;
  if (fraction.length > exponent) {
    return {
      error:
        exponent === 0
          ? `${currency} has no minor unit: send a whole amount such as "1500".`
          : `${currency} has ${exponent} decimal places; "${price}" has ${fraction.length}.`,
    };
  }
  const priceMinor = Number(whole) * 10 ** exponent + Number(fraction.padEnd(exponent, "0") || "0");
  return { priceMinor, priceThousandths: priceMinor * 10 ** (3 - exponent) };
}

/** 99999 minor units of USD → "999.99"; 1500 of JPY → "1500". Always the currency's exact digits. */
export function formatPrice(priceMinor: number, currency: string): string {
  const exponent = currencyExponent(currency) ?? 2;
  if (exponent === 0) return String(priceMinor);
  const digits = String(priceMinor).padStart(exponent + 1, "0");
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** A filter amount such as "10" or "9.99" at the thousandths scale (10000, 9990); null when malformed. */
export function amountToThousandths(amount: string): number | null {
  const match = DECIMAL.exec(amount);
  if (!match) return null;
  const [, whole = "0", fraction = ""] = match;
  return Number(whole) * 1000 + Number(fraction.padEnd(3, "0"));
}
