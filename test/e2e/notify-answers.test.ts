/**
 * What the service answers each gateway's callbacks, by cause, with the emulators calling back:
 * refused (does not verify) 401, unknown merchant 404, verified but unapplicable acknowledged and
 * kept once for a person, our own failure 5xx so the gateway sends it again.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/providers/provider.ts';
import { backends } from '../support/backends.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const tradeNo = tradeNumbers('NA');

interface WxpayNotification {
  outRefundNo?: string;
  eventType: string;
  state: string;
  attempts: Array<{ status?: number }>;
}
interface AlipayNotification {
  notifyId: string;
  event: string;
  params: Record<string, string>;
  acknowledged: boolean;
  attempts: Array<{ status?: number; body?: string }>;
}

describe.each(backends)('callback answers by cause on $name', (backend) => {
  let h: WxpayHarness;
  let flakyFailures = 0;
  const handled: string[] = [];

  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    h.vkPay.onPaid('goods', ({ order }) => {
      handled.push(order.outTradeNo);
    });
    // Our own failure: the business handler fails while flakyFailures lasts.
    h.vkPay.onPaid('flaky', ({ order }) => {
      if (flakyFailures-- > 0) throw new Error('the wallet service is down');
      handled.push(order.outTradeNo);
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const provider = (name: 'wxpay' | 'alipay'): Provider => h.vkPay.context.providers.get(name)!;
  const notifyUrl = (name: string, merchant = MERCHANT) =>
    `${h.vkPay.context.publicUrl}/notify/${name}/${merchant}`;
  const storedStatus = async (no: string) =>
    (
      await h.vkPay.store.db
        .selectFrom('payment_orders')
        .select('status')
        .where('out_trade_no', '=', no)
        .executeTakeFirstOrThrow()
    ).status;
  const reviewsOf = async (reference: string) =>
    (await h.vkPay.listReviews(MERCHANT, { status: 'ALL', limit: 500 })).filter(
      (review) => review.kind === 'unapplicable_callback' && review.reference === reference,
    );
  const errorCodes = async (where: { outTradeNo?: string; outRefundNo?: string }) => {
    const rows = await sql<{ code: number }>`
      select code from payment_errors
      where ${where.outTradeNo === undefined ? sql`true` : sql`out_trade_no = ${where.outTradeNo}`}
        and ${where.outRefundNo === undefined ? sql`true` : sql`payload->'payload'->>'outRefundNo' = ${where.outRefundNo}`}
    `.execute(h.vkPay.store.db);
    return rows.rows.map((row) => row.code);
  };
  const applyLogs = async (no: string) =>
    (
      await h.vkPay.store.db
        .selectFrom('payment_logs')
        .select('id')
        .where('out_trade_no', '=', no)
        .where('type', '=', 'apply_notify')
        .execute()
    ).length;

  describe('WeChat Pay', () => {
    const settled = async (no: string, match: (record: WxpayNotification) => boolean = () => true) => {
      const records = await eventually(
        async () =>
          (
            (await h.control('GET', `/notifications?mchid=${h.mchId}&out_trade_no=${no}`))
              .json as WxpayNotification[]
          ).filter(match),
        (list) => list.length > 0 && list.every((record) => record.state !== 'pending'),
      );
      expect(records).toHaveLength(1);
      return records[0]!;
    };
    /** A payment made at the gateway without an order here (another system, or a lost row). */
    const payAtGateway = async (no: string, totalFen: number) => {
      await provider('wxpay').createPayment({
        merchantId: MERCHANT,
        outTradeNo: no,
        totalFen,
        subject: '网关直付',
        scene: 'native',
        notifyUrl: notifyUrl('wxpay'),
      });
      const paid = await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
      expect(paid.status).toBe(200);
      return paid.json.transaction.transaction_id as string;
    };
    const orderHere = (no: string, overrides: { mchId?: string; appId?: string } = {}) =>
      h.vkPay.createOrder({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 1000,
        subject: '金额不符',
        type: 'goods',
        mchId: overrides.mchId ?? h.mchId,
        appId: overrides.appId ?? h.appId,
      });

    it('a notification that does not verify answers 401 {"code":"FAIL"}; the resend that does is applied', async () => {
      for (const kind of ['signTest', 'staleTimestamp', 'unknownSerial']) {
        const no = tradeNo();
        await h.vkPay.pay({
          merchantId: MERCHANT,
          provider: 'wxpay',
          scene: 'native',
          out_trade_no: no,
          total_fee: 100,
          subject: '验签',
          type: 'goods',
        });
        await h.control('POST', '/faults', { channel: 'notify', kind, mchid: h.mchId, outTradeNo: no });
        await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
        const record = await settled(no);
        expect({ kind, statuses: record.attempts.map((attempt) => attempt.status) }).toEqual({
          kind,
          statuses: [401, 204],
        });
        expect(await storedStatus(no)).toBe('SUCCESS');
      }
    });

    it('answers 401 to a malformed body, 404 to an unknown merchant or gateway', async () => {
      const malformed = await fetch(notifyUrl('wxpay'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'not json',
      });
      expect(malformed.status).toBe(401);
      expect(await malformed.json()).toMatchObject({ code: 'FAIL', message: expect.any(String) });
      const nobody = await fetch(notifyUrl('wxpay', 'nobody'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(nobody.status).toBe(404);
      expect(await nobody.json()).toMatchObject({ code: 'FAIL' });
      const unknownGateway = await fetch(notifyUrl('paypal'), { method: 'POST', body: '{}' });
      expect(unknownGateway.status).toBe(404);
    });

    it('a payment for an order unknown here is acknowledged, recorded once and kept for a person', async () => {
      const no = tradeNo();
      const transactionId = await payAtGateway(no, 600);
      const record = await settled(no);
      expect(record).toMatchObject({ state: 'delivered', attempts: [{ status: 204 }] });
      expect(await errorCodes({ outTradeNo: no })).toEqual([40005]);
      const reviews = await reviewsOf(transactionId);
      expect(reviews).toHaveLength(1);
      expect(reviews[0]).toMatchObject({
        outTradeNo: no,
        provider: 'wxpay',
        amountFen: 600,
        status: 'OPEN',
        details: expect.objectContaining({ cause: 'unknown_order', code: 40005 }),
      });
      expect(reviews[0]!.action).toMatch(/refund/);
    });

    it('a payment of another amount, or to another merchant than the order, is acknowledged and left unapplied', async () => {
      const cheaper = tradeNo();
      await orderHere(cheaper);
      const cheaperId = await payAtGateway(cheaper, 999);
      expect(await settled(cheaper)).toMatchObject({ state: 'delivered', attempts: [{ status: 204 }] });
      expect(await storedStatus(cheaper)).toBe('NOTPAY');
      expect(await errorCodes({ outTradeNo: cheaper })).toEqual([40001]);
      expect(await reviewsOf(cheaperId)).toMatchObject([
        {
          amountFen: 999,
          details: expect.objectContaining({ cause: 'amount_mismatch', expected: 1000, actual: 999 }),
        },
      ]);

      const elsewhere = tradeNo();
      await orderHere(elsewhere, { mchId: '1900000000' });
      const elsewhereId = await payAtGateway(elsewhere, 1000);
      expect(await settled(elsewhere)).toMatchObject({ state: 'delivered', attempts: [{ status: 204 }] });
      expect(await storedStatus(elsewhere)).toBe('NOTPAY');
      expect(await reviewsOf(elsewhereId)).toMatchObject([
        { details: expect.objectContaining({ cause: 'other_merchant', field: 'mch_id' }) },
      ]);
      expect(handled).not.toContain(cheaper);
      expect(handled).not.toContain(elsewhere);
    });

    it('refund notifications for an unknown out_refund_no or another amount are acknowledged and kept once', async () => {
      /** One paid order per refund: WeChat Pay wants a minute between refunds of one order. */
      const paidOrder = async () => {
        const no = tradeNo();
        await h.vkPay.pay({
          merchantId: MERCHANT,
          provider: 'wxpay',
          scene: 'native',
          out_trade_no: no,
          total_fee: 1000,
          subject: '退款',
          type: 'goods',
        });
        await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
        await eventually(
          () => storedStatus(no),
          (status) => status === 'SUCCESS',
        );
        return no;
      };
      const refundAtGateway = async (no: string, outRefundNo: string, refundFen: number) => {
        await provider('wxpay').refund({
          merchantId: MERCHANT,
          outTradeNo: no,
          outRefundNo,
          refundFen,
          totalFen: 1000,
          notifyUrl: notifyUrl('wxpay'),
        });
        await h.control('POST', `/refunds/${h.mchId}/${outRefundNo}/succeed`);
        return settled(no, (record) => record.outRefundNo === outRefundNo);
      };

      const first = await paidOrder();
      const unknown = `${first}X`;
      expect(await refundAtGateway(first, unknown, 100)).toMatchObject({
        eventType: 'REFUND.SUCCESS',
        state: 'delivered',
        attempts: [{ status: 204 }],
      });
      expect(await errorCodes({ outRefundNo: unknown })).toEqual([40005]);
      expect(await reviewsOf(unknown)).toMatchObject([
        { amountFen: 100, details: expect.objectContaining({ cause: 'unknown_refund' }) },
      ]);

      // Reserved here for 300, refunded at the gateway for 200 under the same number.
      const second = await paidOrder();
      const other = `${second}R1`;
      await h.vkPay.startRefund({
        merchantId: MERCHANT,
        out_trade_no: second,
        out_refund_no: other,
        refund_fee: 300,
      });
      expect(await refundAtGateway(second, other, 200)).toMatchObject({
        state: 'delivered',
        attempts: [{ status: 204 }],
      });
      expect(await h.vkPay.listRefunds(MERCHANT, second)).toMatchObject([
        { outRefundNo: other, status: 'PROCESSING' },
      ]);
      expect(await errorCodes({ outRefundNo: other })).toEqual([40001]);
      expect(await reviewsOf(other)).toMatchObject([
        { amountFen: 200, details: expect.objectContaining({ cause: 'refund_amount_mismatch' }) },
      ]);
      expect((await h.vkPay.getOrder(MERCHANT, second)).refundedFen).toBe(0);
    });

    it('a business handler failure answers 500 so WeChat Pay sends it again, and the resend is applied', async () => {
      const no = tradeNo();
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 100,
        subject: '处理失败',
        type: 'flaky',
      });
      flakyFailures = 1;
      await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
      const record = await settled(no);
      expect(record.attempts.map((attempt) => attempt.status)).toEqual([500, 204]);
      expect(await storedStatus(no)).toBe('SUCCESS');
      expect(handled.filter((n) => n === no)).toHaveLength(1);
    });
  });

  describe('Alipay', () => {
    const ali = () => h.alipay;
    const notifications = async (no: string) =>
      (await ali().control('GET', `/notifications?app_id=${ali().appId}&out_trade_no=${no}`))
        .json as AlipayNotification[];
    const settled = async (no: string, event: string) => {
      const records = await eventually(
        async () => (await notifications(no)).filter((record) => record.event === event),
        (list) =>
          list.length > 0 &&
          list.every((record) => record.acknowledged || record.attempts.some((a) => a.status !== undefined)),
      );
      expect(records).toHaveLength(1);
      return records[0]!;
    };
    const answer = async (record: AlipayNotification, merchant = MERCHANT) => {
      const response = await fetch(notifyUrl('alipay', merchant), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: new URLSearchParams(record.params).toString(),
      });
      return { status: response.status, body: await response.text() };
    };
    const payAtGateway = async (no: string, totalFen: number) => {
      await provider('alipay').createPayment({
        merchantId: MERCHANT,
        outTradeNo: no,
        totalFen,
        subject: '网关直付',
        scene: 'native',
        notifyUrl: notifyUrl('alipay'),
      });
      await ali().control('POST', `/trades/${ali().appId}/${no}/scan`);
      const paid = await ali().control('POST', `/trades/${ali().appId}/${no}/pay`);
      expect(paid.status).toBe(200);
      return settled(no, 'paid');
    };
    const pay = async (no: string, type = 'goods') => {
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'alipay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 1000,
        subject: '支付宝回调',
        type,
      });
      await ali().control('POST', `/trades/${ali().appId}/${no}/scan`);
      await ali().control('POST', `/trades/${ali().appId}/${no}/pay`);
      return settled(no, 'paid');
    };

    it('a notification that does not verify answers 401 "fail"; the resend that does is applied', async () => {
      const no = tradeNo();
      await ali().control('POST', '/faults', {
        channel: 'notify',
        kind: 'badSignature',
        appId: ali().appId,
        outTradeNo: no,
      });
      await pay(no);
      const record = await eventually(
        async () => (await notifications(no))[0]!,
        (r) => r.acknowledged,
      );
      expect(record.attempts.map(({ status, body }) => ({ status, body }))).toEqual([
        { status: 401, body: 'fail' },
        { status: 200, body: 'success' },
      ]);
      expect(await storedStatus(no)).toBe('SUCCESS');
    });

    it('answers 404 "fail" to an unknown merchant', async () => {
      const no = tradeNo();
      const record = await pay(no);
      expect(await answer(record, 'nobody')).toEqual({ status: 404, body: 'fail' });
    });

    it('a notify_id already applied is acknowledged without applying it again', async () => {
      const no = tradeNo();
      const record = await pay(no);
      expect(record.acknowledged).toBe(true);
      const applies = await applyLogs(no);
      expect(applies).toBe(1);
      expect(await answer(record)).toEqual({ status: 200, body: 'success' });
      expect(await applyLogs(no)).toBe(applies);
      expect(handled.filter((n) => n === no)).toHaveLength(1);
    });

    it('payments for an unknown order, of another amount or to another app are acknowledged, and a resend adds nothing', async () => {
      const unknown = tradeNo();
      const unknownRecord = await payAtGateway(unknown, 700);
      expect(unknownRecord).toMatchObject({
        acknowledged: true,
        attempts: [{ status: 200, body: 'success' }],
      });
      const transactionId = unknownRecord.params.trade_no!;
      expect(await errorCodes({ outTradeNo: unknown })).toEqual([40005]);
      expect(await reviewsOf(transactionId)).toMatchObject([
        { outTradeNo: unknown, provider: 'alipay', amountFen: 700 },
      ]);
      // Alipay resending it (or anyone replaying it) is acknowledged again and records nothing more.
      expect(await answer(unknownRecord)).toEqual({ status: 200, body: 'success' });
      expect(await errorCodes({ outTradeNo: unknown })).toEqual([40005]);
      expect(await reviewsOf(transactionId)).toHaveLength(1);

      const cheaper = tradeNo();
      await h.vkPay.createOrder({
        merchantId: MERCHANT,
        provider: 'alipay',
        scene: 'native',
        out_trade_no: cheaper,
        total_fee: 1000,
        subject: '金额不符',
        type: 'goods',
        mchId: ali().sellerId,
        appId: ali().appId,
      });
      const cheaperRecord = await payAtGateway(cheaper, 999);
      expect(cheaperRecord.attempts).toEqual([expect.objectContaining({ status: 200, body: 'success' })]);
      expect(await storedStatus(cheaper)).toBe('NOTPAY');
      expect(await reviewsOf(cheaperRecord.params.trade_no!)).toMatchObject([
        { details: expect.objectContaining({ cause: 'amount_mismatch' }) },
      ]);

      const otherApp = tradeNo();
      await h.vkPay.createOrder({
        merchantId: MERCHANT,
        provider: 'alipay',
        scene: 'native',
        out_trade_no: otherApp,
        total_fee: 1000,
        subject: '别的应用',
        type: 'goods',
        mchId: ali().sellerId,
        appId: '2021000000000999',
      });
      const otherRecord = await payAtGateway(otherApp, 1000);
      expect(otherRecord.attempts).toEqual([expect.objectContaining({ status: 200, body: 'success' })]);
      expect(await storedStatus(otherApp)).toBe('NOTPAY');
      expect(await reviewsOf(otherRecord.params.trade_no!)).toMatchObject([
        { details: expect.objectContaining({ cause: 'other_merchant', field: 'app_id' }) },
      ]);
    });

    it('a refund notification for an unknown out_refund_no is acknowledged and kept once', async () => {
      const no = tradeNo();
      await pay(no);
      await eventually(
        () => storedStatus(no),
        (status) => status === 'SUCCESS',
      );
      const outRefundNo = `${no}X`;
      await provider('alipay').refund({
        merchantId: MERCHANT,
        outTradeNo: no,
        outRefundNo,
        refundFen: 250,
        totalFen: 1000,
        notifyUrl: notifyUrl('alipay'),
      });
      const record = await settled(no, 'refunded');
      expect(record).toMatchObject({ acknowledged: true, attempts: [{ status: 200, body: 'success' }] });
      expect(await errorCodes({ outRefundNo })).toEqual([40005]);
      expect(await reviewsOf(outRefundNo)).toMatchObject([
        { provider: 'alipay', details: expect.objectContaining({ cause: 'unknown_refund' }) },
      ]);
      expect(await answer(record)).toEqual({ status: 200, body: 'success' });
      expect(await errorCodes({ outRefundNo })).toEqual([40005]);
    });

    it('a business handler failure answers 500 "fail" so Alipay sends it again, and the resend is applied', async () => {
      const no = tradeNo();
      flakyFailures = 1;
      await pay(no, 'flaky');
      const record = await eventually(
        async () => (await notifications(no))[0]!,
        (r) => r.acknowledged,
      );
      expect(record.attempts.map(({ status, body }) => ({ status, body }))).toEqual([
        { status: 500, body: 'fail' },
        { status: 200, body: 'success' },
      ]);
      expect(handled.filter((n) => n === no)).toHaveLength(1);
    });
  });
});
