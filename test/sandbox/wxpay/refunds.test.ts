import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSandbox,
  nativeOrder,
  registerMerchant,
  type SandboxUnderTest,
  signedCall,
  type TestMerchant,
} from './support/merchant-client.ts';

let sandbox: SandboxUnderTest;
let merchant: TestMerchant;

beforeAll(async () => {
  sandbox = await buildSandbox();
  // These tests refund one order several times in a row to check amounts; the minute WeChat wants
  // between refunds of one order is tested on its own below.
  merchant = await registerMerchant(sandbox.app, 'publicKey', { refundSpacing: false });
});
afterAll(() => sandbox.app.close());

async function paidOrder(totalFen = 100): Promise<{ outTradeNo: string; transactionId: string }> {
  const order = nativeOrder(merchant, { amount: { total: totalFen, currency: 'CNY' } });
  await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);
  const paid = await sandbox.app.inject({
    method: 'POST',
    url: `/sandbox/trades/${merchant.mchid}/${order.out_trade_no}/pay`,
  });
  return { outTradeNo: order.out_trade_no as string, transactionId: paid.json().transaction.transaction_id };
}

let refundCounter = 0;
const refund = (fields: Record<string, unknown>, refundFen: number, totalFen = 100) =>
  signedCall(sandbox.app, merchant, 'POST', '/v3/refund/domestic/refunds', {
    out_refund_no: `R${Date.now()}${++refundCounter}`,
    reason: '商品已售完',
    amount: { refund: refundFen, total: totalFen, currency: 'CNY' },
    ...fields,
  });

describe('refunds', () => {
  it('accepts a partial refund as PROCESSING and moves the trade to REFUND', async () => {
    const { outTradeNo } = await paidOrder();
    const response = await refund({ out_trade_no: outTradeNo }, 30);
    expect(response.status).toBe(200);
    expect(response.json()).toMatchObject({
      status: 'PROCESSING',
      out_trade_no: outTradeNo,
      channel: 'ORIGINAL',
      amount: { total: 100, refund: 30, payer_refund: 30, currency: 'CNY' },
    });
    expect(response.json().refund_id).toMatch(/^\d{29}$/);
    const trade = await signedCall(
      sandbox.app,
      merchant,
      'GET',
      `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${merchant.mchid}`,
    );
    expect(trade.json().trade_state).toBe('REFUND');
  });

  it('refuses more than the refundable amount with 403 NOT_ENOUGH, counting in-flight refunds', async () => {
    const { transactionId } = await paidOrder();
    expect((await refund({ transaction_id: transactionId }, 60)).status).toBe(200);
    const over = await refund({ transaction_id: transactionId }, 41);
    expect(over.status).toBe(403);
    expect(over.json()).toMatchObject({ code: 'NOT_ENOUGH', detail: { refundable: 40 } });
    expect((await refund({ transaction_id: transactionId }, 40)).status).toBe(200);
  });

  it('frees the amount of a CLOSED refund but not of an ABNORMAL one', async () => {
    const { outTradeNo } = await paidOrder();
    const first = (await refund({ out_trade_no: outTradeNo }, 100)).json();
    await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/refunds/${merchant.mchid}/${first.out_refund_no}/abnormal`,
    });
    expect((await refund({ out_trade_no: outTradeNo }, 1)).json().code).toBe('NOT_ENOUGH');
    const closed = await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/refunds/${merchant.mchid}/${first.out_refund_no}/close`,
    });
    expect(closed.json().status).toBe('CLOSED');
    expect((await refund({ out_trade_no: outTradeNo }, 100)).status).toBe(200);
  });

  it('returns the same refund for the same out_refund_no and refuses it with other content', async () => {
    const { outTradeNo } = await paidOrder();
    const body = {
      out_trade_no: outTradeNo,
      out_refund_no: `RSAME${Date.now()}`,
      amount: { refund: 10, total: 100, currency: 'CNY' },
    };
    const first = await signedCall(sandbox.app, merchant, 'POST', '/v3/refund/domestic/refunds', body);
    const again = await signedCall(sandbox.app, merchant, 'POST', '/v3/refund/domestic/refunds', body);
    expect(again.json().refund_id).toBe(first.json().refund_id);
    const changed = await signedCall(sandbox.app, merchant, 'POST', '/v3/refund/domestic/refunds', {
      ...body,
      amount: { refund: 11, total: 100, currency: 'CNY' },
    });
    expect(changed.status).toBe(400);
    expect(changed.json().code).toBe('INVALID_REQUEST');
  });

  it('refuses unpaid and unknown orders and a wrong order total', async () => {
    const order = nativeOrder(merchant);
    await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);
    expect((await refund({ out_trade_no: order.out_trade_no }, 10)).json().code).toBe('INVALID_REQUEST');
    expect((await refund({ out_trade_no: 'NOSUCHORDER1' }, 10)).json()).toEqual({
      code: 'RESOURCE_NOT_EXISTS',
      message: '订单不存在',
    });
    const { outTradeNo } = await paidOrder();
    expect((await refund({ out_trade_no: outTradeNo }, 10, 99)).json().code).toBe('INVALID_REQUEST');
  });

  it('queries a refund by out_refund_no through its outcomes', async () => {
    const { outTradeNo } = await paidOrder();
    const created = (await refund({ out_trade_no: outTradeNo }, 100)).json();
    const queryRefund = async () =>
      (
        await signedCall(sandbox.app, merchant, 'GET', `/v3/refund/domestic/refunds/${created.out_refund_no}`)
      ).json();
    expect((await queryRefund()).status).toBe('PROCESSING');
    await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/refunds/${merchant.mchid}/${created.out_refund_no}/succeed`,
    });
    const settled = await queryRefund();
    expect(settled.status).toBe('SUCCESS');
    expect(settled.success_time).toMatch(/\+08:00$/);
    const reopen = await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/refunds/${merchant.mchid}/${created.out_refund_no}/close`,
    });
    expect(reopen.statusCode).toBe(409);
    expect(
      (await signedCall(sandbox.app, merchant, 'GET', '/v3/refund/domestic/refunds/NOPE')).json().code,
    ).toBe('RESOURCE_NOT_EXISTS');
  });

  it('succeeds a refund by itself after the merchant refund delay (scaled by timeFactor)', async () => {
    const auto = await registerMerchant(sandbox.app, 'publicKey', { refundAutoSucceedMs: 20_000 });
    const order = nativeOrder(auto);
    await signedCall(sandbox.app, auto, 'POST', '/v3/pay/transactions/native', order);
    await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/trades/${auto.mchid}/${order.out_trade_no}/pay`,
    });
    const created = await signedCall(sandbox.app, auto, 'POST', '/v3/refund/domestic/refunds', {
      out_trade_no: order.out_trade_no,
      out_refund_no: 'RAUTO0001',
      amount: { refund: 100, total: 100, currency: 'CNY' },
    });
    expect(created.json().status).toBe('PROCESSING');
    await new Promise((resolve) => setTimeout(resolve, 60));
    const later = await signedCall(sandbox.app, auto, 'GET', '/v3/refund/domestic/refunds/RAUTO0001');
    expect(later.json().status).toBe('SUCCESS');
  });
});

describe('one minute between refunds of one order', () => {
  let nowMs = Date.now();
  let timed: SandboxUnderTest;
  let spaced: TestMerchant;
  beforeAll(async () => {
    timed = await buildSandbox({ clock: { now: () => nowMs } });
    spaced = await registerMerchant(timed.app);
  });
  afterAll(() => timed.app.close());

  const at = {
    get timestamp() {
      return Math.floor(nowMs / 1000);
    },
  };
  const refundOf = (outTradeNo: string, outRefundNo: string, refundFen: number) =>
    signedCall(
      timed.app,
      spaced,
      'POST',
      '/v3/refund/domestic/refunds',
      { out_trade_no: outTradeNo, out_refund_no: outRefundNo, amount: { refund: refundFen, total: 100 } },
      { timestamp: at.timestamp },
    );

  it('refuses a second refund of the same order within a minute with 429 FREQUENCY_LIMITED', async () => {
    const order = nativeOrder(spaced, { amount: { total: 100, currency: 'CNY' } });
    await signedCall(timed.app, spaced, 'POST', '/v3/pay/transactions/native', order, at);
    await timed.app.inject({
      method: 'POST',
      url: `/sandbox/trades/${spaced.mchid}/${order.out_trade_no}/pay`,
    });
    const outTradeNo = order.out_trade_no as string;
    expect((await refundOf(outTradeNo, `${outTradeNo}-1`, 10)).status).toBe(200);
    nowMs += 30_000;
    const early = await refundOf(outTradeNo, `${outTradeNo}-2`, 10);
    expect(early.status).toBe(429);
    expect(early.json()).toMatchObject({ code: 'FREQUENCY_LIMITED' });
    // Repeating the first refund is the same refund, not a new one: no minute to wait.
    expect((await refundOf(outTradeNo, `${outTradeNo}-1`, 10)).status).toBe(200);
    nowMs += 31_000;
    expect((await refundOf(outTradeNo, `${outTradeNo}-2`, 10)).status).toBe(200);
  });

  it('counts per order: another order of the merchant may be refunded at once', async () => {
    const orders: string[] = [];
    for (let i = 0; i < 2; i++) {
      const order = nativeOrder(spaced, { amount: { total: 100, currency: 'CNY' } });
      await signedCall(timed.app, spaced, 'POST', '/v3/pay/transactions/native', order, at);
      await timed.app.inject({
        method: 'POST',
        url: `/sandbox/trades/${spaced.mchid}/${order.out_trade_no}/pay`,
      });
      orders.push(order.out_trade_no as string);
    }
    for (const outTradeNo of orders)
      expect((await refundOf(outTradeNo, `${outTradeNo}-A`, 5)).status).toBe(200);
  });

  it('lets the clock route pass the minute: gateway time moves, signatures keep the wall clock', async () => {
    const live = await registerMerchant(sandbox.app);
    const order = nativeOrder(live, { amount: { total: 100, currency: 'CNY' } });
    await signedCall(sandbox.app, live, 'POST', '/v3/pay/transactions/native', order);
    await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/trades/${live.mchid}/${order.out_trade_no}/pay`,
    });
    const refundNo = (n: number) =>
      signedCall(sandbox.app, live, 'POST', '/v3/refund/domestic/refunds', {
        out_trade_no: order.out_trade_no,
        out_refund_no: `${order.out_trade_no}-${n}`,
        amount: { refund: 10, total: 100 },
      });
    expect((await refundNo(1)).status).toBe(200);
    expect((await refundNo(2)).status).toBe(429);
    const moved = await sandbox.app.inject({
      method: 'POST',
      url: '/sandbox/clock',
      payload: { offsetMs: 61_000 },
    });
    try {
      expect(moved.json().offsetMs).toBe(61_000);
      expect(Date.parse(moved.json().now) - Date.now()).toBeGreaterThan(60_000);
      const second = await refundNo(2);
      expect(second.status).toBe(200);
      expect(Date.parse(second.json().create_time) - Date.now()).toBeGreaterThan(60_000);
    } finally {
      await sandbox.app.inject({ method: 'POST', url: '/sandbox/clock', payload: { offsetMs: 0 } });
    }
    expect((await sandbox.app.inject({ url: '/sandbox/clock' })).json().offsetMs).toBe(0);
    const bad = await sandbox.app.inject({ method: 'POST', url: '/sandbox/clock', payload: { at: 'soon' } });
    expect(bad.statusCode).toBe(400);
  });
});
