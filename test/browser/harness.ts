/**
 * The cashier's world on real sockets: the end-to-end harness (VK-Pay on PGlite in memory, with a
 * merchant on the WeChat Pay and Alipay emulators calling back its notify URLs), plus signed API
 * calls and checkouts.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { RunningAlipaySandbox } from '../../src/sandbox/alipay/index.ts';
import type { RunningWxpaySandbox } from '../../src/sandbox/wxpay/index.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { API_APP, type Control, startWxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';

export { MERCHANT } from '../e2e/harness.ts';

export interface CashierHarness {
  url: string;
  vkPay: VkPay;
  app: FastifyInstance;
  wxpay: { emulator: RunningWxpaySandbox; mchId: string; control: Control };
  alipay: { emulator: RunningAlipaySandbox; appId: string; control: Control };
  /** A signed merchant API call over the socket. */
  api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** POST /api/checkouts with sensible defaults; returns data.checkout. */
  checkout(fields?: Record<string, unknown>): Promise<{ token: string; url: string; expires_at: string }>;
  close(): Promise<void>;
}

let sequence = 0;
export function outTradeNo(prefix = 'CK'): string {
  sequence += 1;
  return `${prefix}${Date.now()}${String(sequence).padStart(4, '0')}${randomBytes(2).toString('hex')}`;
}

export async function startCashierHarness(): Promise<CashierHarness> {
  // PostgreSQL and Redis when the test servers are configured, else PGlite in memory.
  const h = await startWxpayHarness(backends[backends.length - 1]!);
  const { vkPay, app } = h;
  const url = vkPay.context.publicUrl;

  const api: CashierHarness['api'] = async (method, path, body) => {
    const request = signed(API_APP, method, path, body);
    const response = await fetch(`${url}${path}`, {
      method,
      headers: request.headers,
      ...(request.payload === undefined ? {} : { body: request.payload }),
    });
    return { status: response.status, json: await response.json() };
  };
  return {
    url,
    vkPay,
    app,
    wxpay: { emulator: h.emulator, mchId: h.mchId, control: h.control },
    alipay: { emulator: h.alipay.emulator, appId: h.alipay.appId, control: h.alipay.control },
    api,
    async checkout(fields = {}) {
      const answer = await api('POST', '/api/checkouts', {
        out_trade_no: outTradeNo(),
        total_fee: 1,
        subject: 'VIP 会员 1 个月',
        type: 'goods',
        ...fields,
      });
      if (answer.json.code !== 0) throw new Error(`checkout refused: ${JSON.stringify(answer.json)}`);
      return answer.json.data.checkout;
    },
    close: () => h.close(),
  };
}
