import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceContext } from '../../src/service/context.ts';
import { DEFAULT_REFUND_SYNC, syncPendingRefunds } from '../../src/service/jobs.ts';
import { backends } from '../support/backends.ts';
import {
  codeOf,
  eventually,
  MERCHANT,
  paidOrder as paidOrderAt,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('RS');

describe.each(backends)('refunds left PROCESSING are settled by the background job on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** The job as it runs two minutes from now, so the refunds made here are old enough to check. */
  const later = (): ServiceContext => ({ ...h.vkPay.context, now: () => new Date(Date.now() + 120_000) });
  const sync = () => syncPendingRefunds(later(), DEFAULT_REFUND_SYNC);
  const refundOf = async (no: string) => (await h.vkPay.listRefunds(MERCHANT, no))[0]!;

  const paidOrder = (provider: 'wxpay' | 'alipay', totalFen: number) =>
    paidOrderAt(h, tradeNo(), totalFen, { provider, subject: '退款对账' });

  it('WeChat Pay: a refund whose notification was lost is read back from the gateway', async () => {
    const no = await paidOrder('wxpay', 500);
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      eventType: 'REFUND.SUCCESS',
      times: 'always',
    });
    const { refund } = await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 200,
    });
    expect(refund.status).toBe('PROCESSING');
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/succeed`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await refundOf(no)).status).toBe('PROCESSING');

    expect(await sync()).toEqual({ checked: 1, settled: 1, resent: 0, failed: 0, escalated: 0 });
    expect(await refundOf(no)).toMatchObject({ status: 'SUCCESS', refundFen: 200 });
    expect(await h.vkPay.getOrder(MERCHANT, no)).toMatchObject({
      status: 'PARTIAL_REFUNDED',
      refundedFen: 200,
    });
    await h.control('DELETE', '/faults');
  });

  it('WeChat Pay: a refund the gateway never received is sent again with the same number, then left to wait', async () => {
    const no = await paidOrder('wxpay', 600);
    // Every attempt fails with SYSTEM_ERROR: the refund may or may not exist there, so it stays PROCESSING.
    await h.control('POST', '/faults', { kind: 'systemError', operation: 'refund', times: 'always' });
    const ask = h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 600,
    });
    expect(await codeOf(ask)).toBe(40010);
    await h.control('DELETE', '/faults');
    expect(await refundOf(no)).toMatchObject({ status: 'PROCESSING', refundFen: 600 });

    // The gateway has no such refund (404): the job sends it again, and the gateway starts it.
    const context = later();
    expect(await syncPendingRefunds(context)).toEqual({
      checked: 1,
      settled: 0,
      resent: 1,
      failed: 0,
      escalated: 0,
    });
    // Checked again only after its backoff: still PROCESSING at the gateway, nothing to do yet.
    expect(await syncPendingRefunds(context)).toEqual({
      checked: 0,
      settled: 0,
      resent: 0,
      failed: 0,
      escalated: 0,
    });

    await h.control('POST', `/refunds/${h.mchId}/${no}R1/succeed`);
    const done = await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.status === 'REFUNDED',
    );
    expect(done.refundedFen).toBe(600);
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toHaveLength(1);
  });

  it('Alipay: a refund whose request failed is sent again with the same out_request_no and settles', async () => {
    const no = await paidOrder('alipay', 800);
    await h.alipay.control('POST', '/faults', {
      kind: 'systemError',
      appId: h.alipay.appId,
      method: 'alipay.trade.refund',
      times: 'always',
    });
    expect(
      await codeOf(
        h.vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R1`, refund_fee: 300 }),
      ),
    ).toBe(40010);
    await h.alipay.control('DELETE', '/faults');
    expect((await refundOf(no)).status).toBe('PROCESSING');

    expect(await sync()).toEqual({ checked: 1, settled: 1, resent: 1, failed: 0, escalated: 0 });
    expect(await refundOf(no)).toMatchObject({ status: 'SUCCESS', refundFen: 300 });
    expect(await h.vkPay.getOrder(MERCHANT, no)).toMatchObject({
      status: 'PARTIAL_REFUNDED',
      refundedFen: 300,
    });
  });

  it('a refund still processing past the window goes to the review queue, once', async () => {
    const no = await paidOrder('wxpay', 400);
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 400,
    });
    const monthLater: ServiceContext = {
      ...h.vkPay.context,
      now: () => new Date(Date.now() + 31 * 24 * 3600_000),
    };
    expect(await syncPendingRefunds(monthLater)).toMatchObject({ checked: 0, escalated: 1 });
    expect(await syncPendingRefunds(monthLater)).toMatchObject({ checked: 0, escalated: 0 });
    const reviews = (await h.vkPay.listReviews(MERCHANT)).filter((review) => review.outTradeNo === no);
    expect(reviews).toMatchObject([
      { kind: 'refund_stuck', reference: `${no}R1`, amountFen: 400, status: 'OPEN' },
    ]);
  });
});
