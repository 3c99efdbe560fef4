import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import { controlJson, registerTestApp, type TestApp } from './helpers.ts';

describe('trade states and rules', () => {
  let sandbox: RunningAlipaySandbox;
  let app: TestApp;
  let sequence = 0;

  beforeAll(async () => {
    sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
    app = await registerTestApp(sandbox);
  });
  afterAll(async () => sandbox.close());

  const control = (outTradeNo: string, action: string, body: unknown = {}) =>
    controlJson(`${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}/${action}`, body);

  async function paidTrade(totalAmount = '10.00'): Promise<string> {
    const outTradeNo = `R-${++sequence}`;
    await app.call('alipay.trade.precreate', {
      out_trade_no: outTradeNo,
      total_amount: totalAmount,
      subject: 'rules',
    });
    expect((await control(outTradeNo, 'pay')).status).toBe(200);
    return outTradeNo;
  }

  it('a precreated trade does not exist for query until the buyer scans it', async () => {
    await app.call('alipay.trade.precreate', { out_trade_no: 'Q-1', total_amount: '0.01', subject: 'qr' });
    expect((await app.call('alipay.trade.query', { out_trade_no: 'Q-1' })).inner).toMatchObject({
      code: '40004',
      msg: 'Business Failed',
      sub_code: 'ACQ.TRADE_NOT_EXIST',
    });
    expect((await app.call('alipay.trade.close', { out_trade_no: 'Q-1' })).inner.sub_code).toBe(
      'ACQ.TRADE_NOT_EXIST',
    );
    const scanned = await control('Q-1', 'scan');
    expect(scanned.json.tradeStatus).toBe('WAIT_BUYER_PAY');
    const query = await app.call('alipay.trade.query', { out_trade_no: 'Q-1' });
    expect(query.inner).toMatchObject({
      code: '10000',
      trade_status: 'WAIT_BUYER_PAY',
      total_amount: '0.01',
    });
    await control('Q-1', 'pay', { buyerId: '2088000000000001' });
    const paid = await app.call('alipay.trade.query', { trade_no: query.inner.trade_no! });
    expect(paid.inner).toMatchObject({
      trade_status: 'TRADE_SUCCESS',
      buyer_user_id: '2088000000000001',
      buyer_pay_amount: '0.01',
    });
  });

  it('reusing out_trade_no: same order is idempotent, different content or a paid trade is refused', async () => {
    const order = { out_trade_no: 'U-1', total_amount: '5.00', subject: 'reuse' };
    const first = await app.call('alipay.trade.precreate', order);
    const again = await app.call('alipay.trade.precreate', order);
    expect(again.inner.qr_code).toBe(first.inner.qr_code);
    const changed = await app.call('alipay.trade.precreate', { ...order, total_amount: '6.00' });
    expect(changed.inner.sub_code).toBe('ACQ.CONTEXT_INCONSISTENT');
    await control('U-1', 'pay');
    expect((await app.call('alipay.trade.precreate', order)).inner.sub_code).toBe('ACQ.TRADE_HAS_SUCCESS');
  });

  it('closes a waiting trade but not a paid one', async () => {
    const created = await app.call('alipay.trade.create', {
      out_trade_no: 'K-1',
      total_amount: '3.00',
      subject: 'mini',
      buyer_id: '2088000000000002',
    });
    expect(created.inner.trade_no).toMatch(/^\d{28}$/);
    const closed = await app.call('alipay.trade.close', { trade_no: created.inner.trade_no! });
    expect(closed.inner).toMatchObject({ code: '10000', out_trade_no: 'K-1' });
    expect((await app.call('alipay.trade.query', { out_trade_no: 'K-1' })).inner.trade_status).toBe(
      'TRADE_CLOSED',
    );
    expect((await control('K-1', 'pay')).json).toMatchObject({ sub_code: 'ACQ.TRADE_HAS_CLOSE' });

    const paid = await paidTrade();
    expect((await app.call('alipay.trade.close', { out_trade_no: paid })).inner.sub_code).toBe(
      'ACQ.TRADE_STATUS_ERROR',
    );
  });

  it('alipay.trade.create needs buyer_id or buyer_open_id', async () => {
    const result = await app.call('alipay.trade.create', {
      out_trade_no: 'K-2',
      total_amount: '1.00',
      subject: 'x',
    });
    expect(result.inner).toMatchObject({ code: '40004', sub_code: 'ACQ.INVALID_PARAMETER' });
  });

  it('rejects amounts that are not yuan with at most two decimals', async () => {
    for (const amount of ['0', '1.001', '-1', '1e3', '0.00']) {
      const result = await app.call('alipay.trade.precreate', {
        out_trade_no: `M-${amount}`,
        total_amount: amount,
        subject: 'x',
      });
      expect(result.inner.sub_code, amount).toBe('ACQ.INVALID_PARAMETER');
    }
  });

  it('refunds: idempotent out_request_no, cumulative refund_fee, no refund over the refundable amount', async () => {
    const outTradeNo = await paidTrade('10.00');
    const first = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '3.00',
      out_request_no: 'RF-1',
    });
    expect(first.inner).toMatchObject({ code: '10000', fund_change: 'Y', refund_fee: '3.00' });
    const repeat = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '3.00',
      out_request_no: 'RF-1',
    });
    expect(repeat.inner).toMatchObject({ code: '10000', fund_change: 'N', refund_fee: '3.00' });
    const discordant = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '4.00',
      out_request_no: 'RF-1',
    });
    expect(discordant.inner.sub_code).toBe('ACQ.DISCORDANT_REPEAT_REQUEST');
    const second = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '2.50',
      out_request_no: 'RF-2',
    });
    expect(second.inner).toMatchObject({ fund_change: 'Y', refund_fee: '5.50' });
    const over = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '4.51',
      out_request_no: 'RF-3',
    });
    expect(over.inner.sub_code).toBe('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL');
    expect((await app.call('alipay.trade.query', { out_trade_no: outTradeNo })).inner.trade_status).toBe(
      'TRADE_SUCCESS',
    );

    const rest = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '4.50',
      out_request_no: 'RF-3',
    });
    expect(rest.inner).toMatchObject({ fund_change: 'Y', refund_fee: '10.00' });
    expect((await app.call('alipay.trade.query', { out_trade_no: outTradeNo })).inner.trade_status).toBe(
      'TRADE_CLOSED',
    );
    const more = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '0.01',
      out_request_no: 'RF-4',
    });
    expect(more.inner.sub_code).toBe('ACQ.TRADE_HAS_CLOSE');

    const query = await app.call('alipay.trade.fastpay.refund.query', {
      out_trade_no: outTradeNo,
      out_request_no: 'RF-2',
    });
    expect(query.inner).toMatchObject({
      refund_status: 'REFUND_SUCCESS',
      refund_amount: '2.50',
      total_amount: '10.00',
    });
    const unknown = await app.call('alipay.trade.fastpay.refund.query', {
      out_trade_no: outTradeNo,
      out_request_no: 'nope',
    });
    expect(unknown.inner.code).toBe('10000');
    expect(unknown.inner.refund_status).toBeUndefined();
    // out_request_no is required, even for a refund that was made without one.
    const missing = await app.call('alipay.trade.fastpay.refund.query', { out_trade_no: outTradeNo });
    expect(missing.inner).toMatchObject({ code: '40004', sub_code: 'ACQ.INVALID_PARAMETER' });
    expect(missing.inner.sub_msg).toContain('out_request_no');
  });

  it('refunding an unpaid trade or a finished one is refused', async () => {
    await app.call('alipay.trade.precreate', { out_trade_no: 'W-1', total_amount: '1.00', subject: 'x' });
    await control('W-1', 'scan');
    const unpaid = await app.call('alipay.trade.refund', { out_trade_no: 'W-1', refund_amount: '1.00' });
    expect(unpaid.inner.sub_code).toBe('ACQ.TRADE_STATUS_ERROR');
    const finished = await paidTrade();
    expect((await control(finished, 'finish')).json.tradeStatus).toBe('TRADE_FINISHED');
    const refund = await app.call('alipay.trade.refund', { out_trade_no: finished, refund_amount: '1.00' });
    expect(refund.inner.sub_code).toBe('ACQ.TRADE_HAS_FINISHED');
  });

  it('cancel closes a waiting trade and refunds a paid one', async () => {
    await app.call('alipay.trade.precreate', { out_trade_no: 'X-1', total_amount: '1.00', subject: 'x' });
    await control('X-1', 'scan');
    expect((await app.call('alipay.trade.cancel', { out_trade_no: 'X-1' })).inner).toMatchObject({
      action: 'close',
      retry_flag: 'N',
    });
    const paid = await paidTrade('2.00');
    expect((await app.call('alipay.trade.cancel', { out_trade_no: paid })).inner.action).toBe('refund');
    const after = await app.call('alipay.trade.query', { out_trade_no: paid });
    expect(after.inner.trade_status).toBe('TRADE_CLOSED');
  });

  it('insufficient balance leaves the trade waiting; giving up closes it', async () => {
    await app.call('alipay.trade.precreate', { out_trade_no: 'B-1', total_amount: '1.00', subject: 'x' });
    const failed = await control('B-1', 'fail');
    expect(failed.json).toMatchObject({
      tradeStatus: 'WAIT_BUYER_PAY',
      lastFailure: 'ACQ.BUYER_BALANCE_NOT_ENOUGH',
    });
    expect((await app.call('alipay.trade.query', { out_trade_no: 'B-1' })).inner.trade_status).toBe(
      'WAIT_BUYER_PAY',
    );
    expect((await control('B-1', 'abandon')).json.tradeStatus).toBe('TRADE_CLOSED');
  });
});
