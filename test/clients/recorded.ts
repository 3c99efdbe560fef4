/**
 * A recorded `uni` / `wx` global for the device clients' tests: `request` plays the merchant's
 * backend (it signs and forwards to VK-Pay's API, as the merchant's server would), and every
 * platform API call is recorded with its arguments (callbacks left out) and answered by the test.
 */
import type { UniSystemInfo } from '../../src/clients/uni/index.ts';
import { signedApi } from '../support/signed-client.ts';

export const SHOP = 'https://shop.example.com';

export interface RecordedCall {
  api: string;
  args: Record<string, unknown>;
}

/** What the platform answers: the success callback's argument, or the fail callback's. */
export type PlatformReply = { ok: true; answer: unknown } | { ok: false; answer: unknown };
export type PlatformHandler = (args: Record<string, unknown>) => PlatformReply | Promise<PlatformReply>;

export interface Recorded {
  calls: RecordedCall[];
  /** What the backend received (the client's bodies) and what VK-Pay answered it. */
  backend: { path: string; body?: Record<string, unknown>; answer?: unknown }[];
  // biome-ignore lint/suspicious/noExplicitAny: a stand-in global, typed by the client that uses it
  global: any;
}

/**
 * The merchant backend: POST /pay creates (the body as the client sent it), GET /orders/:no
 * queries, POST /iap hands an App Store purchase over (the backend adds the buyer's user_id).
 */
export function recordedPlatform(options: {
  serviceUrl?: string;
  app?: { appId: string; secret: string };
  systemInfo?: UniSystemInfo | { platform?: string };
  handlers?: Record<string, PlatformHandler>;
  /** Replaces the backend for a path: answers `{ statusCode, data }`, or null for a network failure. */
  route?: (path: string, body: unknown) => { statusCode: number; data: unknown } | null | undefined;
}): Recorded {
  const calls: RecordedCall[] = [];
  const backend: Recorded['backend'] = [];
  const api = options.serviceUrl && options.app ? signedApi(options.serviceUrl, options.app) : undefined;
  const platformApi =
    (name: string) =>
    (args: Record<string, unknown> & { success(answer: unknown): void; fail(answer: unknown): void }) => {
      const { success, fail, ...rest } = args;
      calls.push({ api: name, args: rest });
      const handler = options.handlers?.[name];
      if (!handler) {
        fail({ errMsg: `${name}:fail no handler` });
        return;
      }
      void Promise.resolve(handler(rest)).then((reply) =>
        reply.ok ? success(reply.answer) : fail(reply.answer),
      );
    };
  const global = {
    getSystemInfoSync: () => options.systemInfo ?? {},
    request(args: {
      url: string;
      method: 'GET' | 'POST';
      header: Record<string, string>;
      data?: Record<string, unknown>;
      success(answer: { statusCode: number; data: unknown }): void;
      fail(answer: { errMsg: string }): void;
    }) {
      calls.push({
        api: 'request',
        args: { url: args.url, method: args.method, header: args.header, data: args.data },
      });
      const path = args.url.startsWith(SHOP) ? args.url.slice(SHOP.length) : args.url;
      void (async () => {
        const routed = options.route?.(path, args.data);
        if (routed === null) return args.fail({ errMsg: 'request:fail timeout' });
        if (routed) return args.success(routed);
        if (!api) return args.fail({ errMsg: 'request:fail no backend' });
        const entry: Recorded['backend'][number] = { path, ...(args.data ? { body: args.data } : {}) };
        backend.push(entry);
        let answer: { status: number; json: unknown };
        if (args.method === 'POST' && path === '/pay') answer = await api('POST', '/api/payments', args.data);
        else if (args.method === 'GET' && path.startsWith('/orders/'))
          answer = await api('GET', `/api/payments/${path.slice('/orders/'.length)}`);
        else if (args.method === 'POST' && path === '/iap')
          answer = await api('POST', '/api/store-purchases', { ...args.data, user_id: 'buyer-1' });
        else return args.success({ statusCode: 404, data: 'not found' });
        entry.answer = answer.json;
        args.success({ statusCode: answer.status, data: answer.json });
      })();
    },
    requestPayment: platformApi('requestPayment'),
    requestVirtualPayment: platformApi('requestVirtualPayment'),
    requestOrder: platformApi('requestOrder'),
    getOrderPayment: platformApi('getOrderPayment'),
  };
  return { calls, backend, global };
}

/** The backend's endpoints as the clients are configured with them. */
export const BACKEND = {
  createPayment: `${SHOP}/pay`,
  queryPayment: `${SHOP}/orders/:outTradeNo`,
  storePurchase: `${SHOP}/iap`,
};

/** The platform calls other than the backend requests. */
export function platformCalls(recorded: Recorded): RecordedCall[] {
  return recorded.calls.filter((call) => call.api !== 'request');
}
