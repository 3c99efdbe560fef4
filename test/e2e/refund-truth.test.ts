/**
 * Refund truth: the gateway's word wins over a refusal recorded here; only a refusal the gateway
 * states is final; a finished refund answers from the store, and an outage never turns a known
 * answer into a 503.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import type { Provider } from '../../src/providers/provider.ts';
import { backends } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';
import {
  API_APP,
  codeOf,
  eventually,
  MERCHANT,
  paidOrder as paidOrderAt,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('RT');

describe.each(backends)('refund truth on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  const paidOrder = (totalFen: number) => paidOrderAt(h, tradeNo(), totalFen, { subject: '退款' });
  /** Records here that the gateway refused the refund, as a misread answer would have. */
  const refuseHere = (outRefundNo: string) =>
    h.vkPay.applyRefundResult({
      merchantId: MERCHANT,
      provider: 'wxpay',
      outRefundNo,
      status: 'REFUSED',
      source: 'request',
      raw: { refusedWith: 'misread' },
    });

  it('a later SUCCESS from the gateway beats a refusal recorded here, taking the amount again', async () => {
    const no = await paidOrder(500);
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 200,
    });
    await refuseHere(`${no}R1`);
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/succeed`);
    const settled = await eventually(
      async () => (await h.vkPay.listRefunds(MERCHANT, no))[0]!,
      (refund) => refund.status === 'SUCCESS',
    );
    expect(settled.status).toBe('SUCCESS');
    expect(await h.vkPay.getOrder(MERCHANT, no)).toMatchObject({
      status: 'PARTIAL_REFUNDED',
      refundedFen: 200,
    });
  });

  it('a gateway SUCCESS for a refused refund whose amount went to another refund becomes a review', async () => {
    const no = await paidOrder(300);
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 300,
    });
    await refuseHere(`${no}R1`);
    // The freed amount is reserved by a second refund, on its way to the gateway.
    await h.vkPay.startRefund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R2`,
      refund_fee: 300,
    });
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/succeed`);
    const reviews = await eventually(
      async () => (await h.vkPay.listReviews(MERCHANT)).filter((review) => review.outTradeNo === no),
      (list) => list.length > 0,
    );
    expect(reviews).toHaveLength(1);
    expect(reviews[0]).toMatchObject({ kind: 'refund_conflict', reference: `${no}R1`, amountFen: 300 });
    const refunds = await h.vkPay.listRefunds(MERCHANT, no);
    expect(refunds.map((refund) => [refund.outRefundNo, refund.status])).toEqual([
      [`${no}R1`, 'REFUSED'],
      [`${no}R2`, 'PROCESSING'],
    ]);
    expect((await h.vkPay.getOrder(MERCHANT, no)).refundedFen).toBe(0);
  });

  it('a finished refund answers from the store; one in progress answers its stored state, not fresh, during an outage', async () => {
    const no = await paidOrder(400);
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 100,
    });
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/succeed`);
    await eventually(
      async () => (await h.vkPay.listRefunds(MERCHANT, no))[0]!.status,
      (status) => status === 'SUCCESS',
    );
    // In progress on another order: WeChat wants a minute between refunds of one order.
    const other = await paidOrder(400);
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: other,
      out_refund_no: `${other}R2`,
      refund_fee: 100,
    });
    // The gateway is down for refund queries.
    await h.control('POST', '/faults', { kind: 'systemError', operation: 'refundQuery', times: 'always' });
    try {
      const queriesBefore = await countQueries(no);
      const done = await h.app.inject(signed(API_APP, 'GET', `/api/refunds/${no}R1`));
      expect(done.statusCode).toBe(200);
      expect(done.json().data).toMatchObject({ refund: { status: 'SUCCESS' }, fresh: true });
      expect(await countQueries(no)).toBe(queriesBefore);
      const pending = await h.app.inject(signed(API_APP, 'GET', `/api/refunds/${other}R2`));
      expect(pending.statusCode).toBe(200);
      expect(pending.json().data).toMatchObject({ refund: { status: 'PROCESSING' }, fresh: false });
    } finally {
      await h.control('DELETE', '/faults');
    }
    const back = await h.vkPay.queryRefund(MERCHANT, `${other}R2`);
    expect(back).toMatchObject({ refund: { status: 'PROCESSING' }, fresh: true });
  });

  const countQueries = async (no: string) =>
    (
      await h.vkPay.store.db
        .selectFrom('payment_logs')
        .select('id')
        .where('out_trade_no', '=', no)
        .where('type', '=', 'refund_query')
        .execute()
    ).length;

  it('a refusal the gateway states is final; an answer that cannot be read leaves the refund in progress', async () => {
    const no = await paidOrder(600);
    await h.control('POST', '/faults', { kind: 'notEnough', operation: 'refund', times: 1 });
    expect(
      await codeOf(
        h.vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R1`, refund_fee: 100 }),
      ),
    ).toBe(40007);
    expect((await h.vkPay.listRefunds(MERCHANT, no))[0]!.status).toBe('REFUSED');

    // The network edge the emulator cannot produce: a verified answer this service cannot read.
    const wxpay = h.vkPay.context.providers.get('wxpay')!;
    const misreading: Provider = Object.create(wxpay, {
      refund: {
        value: async () => {
          throw new PayError(50000, { message: 'the refund answer had no status' });
        },
      },
    });
    h.vkPay.context.providers.set('wxpay', misreading);
    try {
      expect(
        await codeOf(
          h.vkPay.refund({
            merchantId: MERCHANT,
            out_trade_no: no,
            out_refund_no: `${no}R2`,
            refund_fee: 100,
          }),
        ),
      ).toBe(50000);
    } finally {
      h.vkPay.context.providers.set('wxpay', wxpay);
    }
    const refunds = await h.vkPay.listRefunds(MERCHANT, no);
    expect(refunds.find((refund) => refund.outRefundNo === `${no}R2`)!.status).toBe('PROCESSING');
  });
});
