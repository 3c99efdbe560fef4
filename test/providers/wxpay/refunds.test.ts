/** Refunds over a real socket: partial and repeated refunds, retries reusing out_refund_no, refund queries. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PayError } from '../../../src/core/errors.ts';
import { parties, provider } from './support/fixtures.ts';
import { startGateway, type TestGateway } from './support/gateway.ts';

const p = parties();
const clock = { now: Date.now() };
let gateway: TestGateway;
const wx = () => provider(p, gateway.baseUrl, clock);
const sentBody = (index = 0) => JSON.parse(gateway.requests[index]!.body) as Record<string, unknown>;

beforeAll(async () => {
  gateway = await startGateway({ key: p.signer, clockMs: () => clock.now, script: () => ({ status: 500 }) });
});
afterAll(() => gateway.close());
afterEach(() => {
  gateway.requests.length = 0;
});

describe('wxpay refunds', () => {
  const refundRequest = (outRefundNo: string, refundFen: number) => ({
    merchantId: 'm1',
    outTradeNo: 'T20240001',
    outRefundNo,
    refundFen,
    totalFen: 1999,
    reason: '商品缺货',
    notifyUrl: 'https://pay.example.com/notify/wxpay/m1',
  });

  it('sends partial and repeated refunds, each with its own out_refund_no, reusing it on retry', async () => {
    gateway.script = (request) => {
      const body = JSON.parse(request.body);
      return {
        status: 200,
        body: {
          refund_id: `R-${body.out_refund_no}`,
          out_refund_no: body.out_refund_no,
          status: 'PROCESSING',
          amount: { refund: body.amount.refund, total: 1999 },
        },
      };
    };
    const first = await wx().refund(refundRequest('RF1', 500));
    const second = await wx().refund(refundRequest('RF2', 700));
    const retried = await wx().refund(refundRequest('RF2', 700));
    expect([first, second, retried].map((r) => [r.outRefundNo, r.refundFen, r.status, r.source])).toEqual([
      ['RF1', 500, 'PROCESSING', 'request'],
      ['RF2', 700, 'PROCESSING', 'request'],
      ['RF2', 700, 'PROCESSING', 'request'],
    ]);
    expect(gateway.requests[0]!.url).toBe('/v3/refund/domestic/refunds');
    expect(sentBody(0)).toEqual({
      out_trade_no: 'T20240001',
      out_refund_no: 'RF1',
      reason: '商品缺货',
      notify_url: 'https://pay.example.com/notify/wxpay/m1',
      amount: { refund: 500, total: 1999, currency: 'CNY' },
    });
    expect(gateway.requests[2]!.body).toBe(gateway.requests[1]!.body);
  });

  it.each(['SUCCESS', 'CLOSED', 'PROCESSING', 'ABNORMAL'])(
    'queries a refund in status %s',
    async (status) => {
      gateway.script = () => ({
        status: 200,
        body: {
          refund_id: 'R1',
          out_refund_no: 'RF1',
          status,
          success_time: '2024-01-02T10:00:00+08:00',
          amount: { refund: 500, total: 1999 },
        },
      });
      const result = await wx().queryRefund({ merchantId: 'm1', outRefundNo: 'RF1', outTradeNo: 'T1' });
      expect(gateway.requests[0]).toMatchObject({ method: 'GET', url: '/v3/refund/domestic/refunds/RF1' });
      expect(result).toMatchObject({
        outRefundNo: 'RF1',
        status,
        refundId: 'R1',
        refundFen: 500,
        source: 'query',
      });
      expect(result.successTime === null).toBe(status !== 'SUCCESS');
    },
  );

  it('refuses a refund answer about another out_refund_no', async () => {
    gateway.script = () => ({
      status: 200,
      body: { out_refund_no: 'RF-OTHER', status: 'SUCCESS', amount: { refund: 1 } },
    });
    expect(
      await wx()
        .queryRefund({ merchantId: 'm1', outRefundNo: 'RF1', outTradeNo: 'T1' })
        .catch((e: PayError) => e.field),
    ).toBe('out_refund_no');
  });

  it('maps RESOURCE_NOT_EXISTS to 40005 and NOT_ENOUGH to 40007', async () => {
    gateway.script = () => ({ status: 404, body: { code: 'RESOURCE_NOT_EXISTS', message: '退款单不存在' } });
    expect(
      await wx()
        .queryRefund({ merchantId: 'm1', outRefundNo: 'RF9', outTradeNo: 'T1' })
        .catch((e: PayError) => e.code),
    ).toBe(40005);
    gateway.script = () => ({ status: 403, body: { code: 'NOT_ENOUGH', message: '余额不足' } });
    expect(
      await wx()
        .refund(refundRequest('RF3', 1))
        .catch((e: PayError) => e.code),
    ).toBe(40007);
  });
});
