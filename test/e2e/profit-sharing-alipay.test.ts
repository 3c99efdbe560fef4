import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSplit } from '../../src/store/profit-sharing.ts';
import { backends } from '../support/backends.ts';
import {
  codeOf,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const orderNo = tradeNumbers('PSA');
const splitNo = tradeNumbers('SPA');
const RECEIVER = '2088000000000101';

describe.each(backends)('Alipay profit sharing on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend, { timeoutMs: 600 });
    await h.vkPay.addSplitReceiver({
      merchantId: MERCHANT,
      provider: 'alipay',
      receiver: { type: 'ALIPAY_USER_ID', account: RECEIVER },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const paidForSplitting = async (totalFen: number) => {
    const outTradeNo = orderNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'alipay',
      scene: 'native',
      out_trade_no: outTradeNo,
      total_fee: totalFen,
      subject: '分账订单',
      type: 'goods',
      profitSharing: true,
    });
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${outTradeNo}/scan`);
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${outTradeNo}/pay`);
    const paid = await eventually(
      () => h.vkPay.getOrder(MERCHANT, outTradeNo),
      (found) => found.status === 'SUCCESS',
    );
    expect(paid.status).toBe('SUCCESS');
    return outTradeNo;
  };
  const line = (amountFen: number) => ({
    type: 'ALIPAY_USER_ID' as const,
    account: RECEIVER,
    amountFen,
    description: '分成',
  });

  it('a refund above what is unsplit takes the split back with it, recorded as returns that settle with the refund', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const outSplitNo = splitNo();
    const { split, created } = await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [line(300)],
    });
    expect(created).toBe(true);
    expect(['PROCESSING', 'FINISHED']).toContain(split.status);
    const done = await eventually(
      () => h.vkPay.querySplit(MERCHANT, outSplitNo),
      (found) => found.split.status === 'FINISHED',
    );
    expect(done.split.lines.map((l) => l.result)).toEqual(['SUCCESS']);
    expect((await h.vkPay.orderSplits(MERCHANT, outTradeNo)).splittableFen).toBe(700);

    // Alipay takes splits back only with a refund.
    expect(
      await codeOf(
        h.vkPay.returnSplit({
          merchantId: MERCHANT,
          outSplitNo,
          outReturnNo: orderNo(),
          receiverAccount: RECEIVER,
          amountFen: 100,
          description: '回退',
        }),
      ),
    ).toBe(40009);

    const outRefundNo = orderNo();
    const refunded = await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: outTradeNo,
      out_refund_no: outRefundNo,
      refund_fee: 900,
    });
    expect(['PROCESSING', 'SUCCESS']).toContain(refunded.refund.status);
    const settled = await eventually(
      () => h.vkPay.queryRefund(MERCHANT, outRefundNo),
      (found) => found.refund.status === 'SUCCESS',
    );
    expect(settled.refund.status).toBe('SUCCESS');
    const summary = await h.vkPay.orderSplits(MERCHANT, outTradeNo);
    expect(summary.returns).toEqual([
      expect.objectContaining({
        amount: 200,
        status: 'SUCCESS',
        with_refund: true,
        out_split_no: outSplitNo,
      }),
    ]);
    expect(summary.splittableFen).toBe(0);
    const events = await h.vkPay.store.db
      .selectFrom('webhook_events')
      .select('type')
      .where('out_trade_no', '=', outTradeNo)
      .where('type', 'like', 'profit_sharing.%')
      .execute();
    expect(events.map((event) => event.type)).toContain('profit_sharing.returned');
    // The rest of the order cannot be refunded: nothing is left unsplit or paid to take back from.
    expect(
      await codeOf(
        h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: outTradeNo,
          out_refund_no: orderNo(),
          refund_fee: 101,
        }),
      ),
    ).toBe(40001);
    expect((await findSplit(h.vkPay.store.db, MERCHANT, outSplitNo))?.status).toBe('FINISHED');
  });
});
