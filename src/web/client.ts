/**
 * The browser client: the shared client core (src/clients/core) over fetch. Every call resolves to
 * the unified envelope; a request that gets no answer is told apart: never reached (40004, kind
 * `network`) or refused to this page's origin by CORS (40009, kind `origin`).
 */
import {
  type BackendEndpoints,
  type ClientResponse,
  createCoreClient,
  type VkPayClient,
} from '../clients/core/client.ts';
import { type Failure, failureOf, type Lang } from '../clients/core/errors.ts';

export type {
  BackendPayRequest,
  CheckoutPayRequest,
  PaymentTarget,
  StorePurchaseHandOver,
  StorePurchaseResult,
  VkPayClient,
  WaitOptions,
} from '../clients/core/client.ts';

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Base URL of the VK-Pay service for checkout-token calls; default: this page's origin. */
  baseUrl?: string;
  /** The merchant backend's own endpoints, which call VK-Pay's signed API for the browser. */
  backend?: BackendEndpoints & { credentials?: 'omit' | 'same-origin' | 'include' };
  lang?: Lang;
  fetch?: FetchLike;
}

export function createClient(options: ClientOptions = {}): VkPayClient {
  const lang = options.lang ?? 'zh';
  const doFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const credentials = options.backend?.credentials;

  return createCoreClient({
    ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
    lang,
    async request({ url, method, headers, body, toBackend }): Promise<ClientResponse> {
      const init: RequestInit = { headers };
      if (method !== 'GET') init.method = method;
      if (body !== undefined) init.body = JSON.stringify(body);
      if (toBackend && credentials) init.credentials = credentials;
      let response: Response;
      try {
        response = await doFetch(url, init);
      } catch (error) {
        return { unanswered: error instanceof Error ? error.message : String(error) };
      }
      try {
        return { status: response.status, body: await response.json() };
      } catch {
        return { status: response.status, body: undefined };
      }
    },
    unanswered,
  });

  /**
   * A fetch that failed looks the same to the page whether the network is down or CORS refused
   * this origin. An opaque (no-cors) request to the same origin tells them apart: if the server
   * answers it, it is reachable, so the failure was the refusal.
   */
  async function unanswered(url: string, reason: string): Promise<Failure> {
    const network = { ...failureOf(40004, lang, reason), kind: 'network' as const };
    const here = (globalThis as { location?: { origin?: string } }).location?.origin ?? null;
    let target: URL;
    try {
      target = new URL(url, here ?? undefined);
    } catch {
      return network;
    }
    if (here === null || target.origin === here) return network;
    try {
      await doFetch(`${target.origin}/healthz`, { mode: 'no-cors', credentials: 'omit' });
    } catch {
      return network;
    }
    return {
      ...failureOf(40009, lang, `origin ${here} may not call ${target.origin} (CORS)`),
      kind: 'origin',
    };
  }
}
