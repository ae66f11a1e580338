/**
 * Every request this API makes to an identity provider goes through here (arctic's token
 * requests through `withProviderTimeout`, which it cannot be handed a fetch for): a
 * timeout, a recognisable User-Agent, JSON checked before it is read, and one error type
 * for "the provider is down or answered garbage", which the callback turns into
 * `error=provider_unavailable` on the client's redirect_uri, never a 500.
 */

/** How long one provider request may take before the sign-in gives up on it. */
export const PROVIDER_TIMEOUT_MS = 8_000;

const USER_AGENT = "edge-api-platform (identity provider sign-in)";

/** The provider could not be reached, timed out, or answered something that is not what its API sends. */
export class ProviderUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProviderUnavailableError";
  }
}

/**
 * `fetch` with the timeout and headers above; a network failure or a timeout becomes a
 * ProviderUnavailableError. Redirects are not followed: a provider API that redirects is
 * not answering what we asked.
 */
export async function providerFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("user-agent")) headers.set("user-agent", USER_AGENT);
  try {
    return await fetch(input, {
      ...init,
      headers,
      redirect: "manual",
      signal: init.signal ?? AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    });
  } catch (error) {
    throw new ProviderUnavailableError(`${describe(input)} could not be reached`, { cause: error });
  }
}

/** GET JSON from a provider (its shape is the caller's to check); anything but a 200 with JSON is a ProviderUnavailableError. */
export async function fetchProviderJson(
  url: string | URL,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const response = await providerFetch(url, { headers: { accept: "application/json", ...headers } });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new ProviderUnavailableError(`${describe(url)} answered ${response.status}`);
  }
  try {
    return await response.json();
  } catch (error) {
    throw new ProviderUnavailableError(`${describe(url)} answered something that is not JSON`, {
      cause: error,
    });
  }
}

/** Gives up on `work` after PROVIDER_TIMEOUT_MS (for library calls that take no AbortSignal). */
export async function withProviderTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ProviderUnavailableError(`${what} took more than ${PROVIDER_TIMEOUT_MS} ms`)),
      PROVIDER_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without its query (which may carry codes or tokens): for logs and error messages. */
function describe(input: string | URL): string {
  try {
    const url = new URL(input);
    return `${url.origin}${url.pathname}`;
  } catch {
    return "the provider";
  }
}
