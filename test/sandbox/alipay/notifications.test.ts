import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  type NotifyReceiver,
  registerTestApp,
  rsa2Verify,
  startNotifyReceiver,
  type TestApp,
  testNotifySigningString,
  testRequestSigningString,
  waitFor,
} from './helpers.ts';

describe('asynchronous notifications to notify_url', () => {
  let sandbox: RunningAlipaySandbox;
  let app: TestApp;
  let receiver: NotifyReceiver;
  let sequence = 0;

  beforeAll(async () => {
    sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
    app = await registerTestApp(sandbox);
  });
  afterEach(async () => {
    await receiver?.close();
    await controlJson(`${sandbox.controlUrl}/faults`, undefined, 'DELETE');
  });
  afterAll(async () => sandbox.close());

  async function paidTrade(answers: string[] = [], totalAmount = '8.80'): Promise<string> {
    receiver = await startNotifyReceiver(answers);
    const outTradeNo = `N-${++sequence}`;
    await app.call(
      'alipay.trade.precreate',
      { out_trade_no: outTradeNo, total_amount: totalAmount, subject: '通知测试', passback_params: 'a%3Db' },
      { notify_url: receiver.url },
    );
    await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}/pay`, {});
    return outTradeNo;
  }

  const verifies = (params: Record<string, string>) =>
    rsa2Verify(testNotifySigningString(params), params.sign!, app.credentials.alipayPublicKey!);

  it('posts a form signed over all fields but sign and sign_type', async () => {
    const outTradeNo = await paidTrade();
    const [notification] = await waitFor(() => receiver.received.length >= 1 && receiver.received);
    expect(notification!.contentType).toContain('application/x-www-form-urlencoded');
    const params = notification!.params;
    expect(params).toMatchObject({
      notify_type: 'trade_status_sync',
      app_id: app.appId,
      auth_app_id: app.appId,
      out_trade_no: outTradeNo,
      trade_status: 'TRADE_SUCCESS',
      total_amount: '8.80',
      receipt_amount: '8.80',
      subject: '通知测试',
      passback_params: 'a%3Db',
      sign_type: 'RSA2',
      charset: 'utf-8',
      version: '1.0',
    });
    expect(JSON.parse(params.fund_bill_list!)).toEqual([{ amount: '8.80', fundChannel: 'ALIPAYACCOUNT' }]);
    expect(params.notify_time).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(verifies(params)).toBe(true);
    // With sign_type kept in the string, the signature must not verify (protocols.md C.7 vector 1).
    expect(rsa2Verify(testRequestSigningString(params), params.sign!, app.credentials.alipayPublicKey!)).toBe(
      false,
    );
  });

  it('retries on the scaled schedule until the answer is exactly success', async () => {
    const outTradeNo = await paidTrade(['fail', ' success', 'success\n']);
    const received = await waitFor(() => receiver.received.length >= 4 && receiver.received, 10_000);
    const gaps = received.slice(1).map((entry, index) => entry.at - received[index]!.at);
    // 4m, 10m, 10m at timeFactor 0.001 are 240 ms, 600 ms, 600 ms.
    expect(gaps[0]).toBeGreaterThanOrEqual(220);
    expect(gaps[0]).toBeLessThan(600);
    expect(gaps[1]).toBeGreaterThanOrEqual(570);
    expect(gaps[2]).toBeGreaterThanOrEqual(570);
    expect(new Set(received.map((entry) => entry.params.notify_id)).size).toBe(1);
    const [record] = (
      await controlJson<Array<Record<string, unknown>>>(
        `${sandbox.controlUrl}/notifications?out_trade_no=${outTradeNo}`,
      )
    ).json;
    await waitFor(() => sandbox.gateway.notifier.list({ outTradeNo })[0]?.acknowledged);
    expect(record!.attempts).toHaveLength(4);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(receiver.received).toHaveLength(4);
  });

  it("sends a trade's latest notification again on request, through the faults like any send", async () => {
    const none = await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/N-none/notify`, {});
    expect(none.status).toBe(404);
    const outTradeNo = await paidTrade();
    const [first] = await waitFor(() => receiver.received.length >= 1 && receiver.received);
    await controlJson(`${sandbox.controlUrl}/faults`, {
      channel: 'notify',
      kind: 'duplicate',
      outTradeNo,
    });
    const again = await controlJson<Record<string, unknown>>(
      `${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}/notify`,
      {},
    );
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ outTradeNo, tradeStatus: 'TRADE_SUCCESS', acknowledged: false });
    const received = await waitFor(() => receiver.received.length >= 3 && receiver.received);
    expect(received.map((entry) => entry.params)).toEqual([first!.params, first!.params, first!.params]);
    expect(verifies(received[2]!.params)).toBe(true);
    await waitFor(() => sandbox.gateway.notifier.list({ outTradeNo }).every((record) => record.acknowledged));
    expect(sandbox.gateway.notifier.list({ outTradeNo })).toHaveLength(2);
  });

  it('notifies partial refunds with TRADE_SUCCESS and a full refund with TRADE_CLOSED', async () => {
    const outTradeNo = await paidTrade([], '10.00');
    await waitFor(() => receiver.received.length >= 1);
    await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '4.00',
      out_request_no: 'P1',
    });
    const partial = (await waitFor(() => receiver.received.length >= 2 && receiver.received))[1]!.params;
    expect(partial).toMatchObject({ trade_status: 'TRADE_SUCCESS', refund_fee: '4.00', out_biz_no: 'P1' });
    expect(partial.gmt_refund).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/);
    await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '6.00',
      out_request_no: 'P2',
    });
    const full = (await waitFor(() => receiver.received.length >= 3 && receiver.received))[2]!.params;
    expect(full).toMatchObject({ trade_status: 'TRADE_CLOSED', refund_fee: '10.00', out_biz_no: 'P2' });
    expect(verifies(partial) && verifies(full)).toBe(true);
  });

  it('notifies TRADE_CLOSED when the buyer gives up and TRADE_FINISHED when the refund window ends', async () => {
    receiver = await startNotifyReceiver();
    await app.call(
      'alipay.trade.precreate',
      { out_trade_no: 'N-closed', total_amount: '1.00', subject: 'x' },
      { notify_url: receiver.url },
    );
    await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/N-closed/fail`, {});
    await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/N-closed/abandon`, {});
    const closed = await waitFor(() => receiver.received[0]);
    expect(closed.params).toMatchObject({ trade_status: 'TRADE_CLOSED', out_trade_no: 'N-closed' });
    expect(closed.params.gmt_payment).toBeUndefined();

    await receiver.close();
    const outTradeNo = await paidTrade();
    await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}/finish`, {});
    const statuses = await waitFor(
      () => receiver.received.length >= 2 && receiver.received.map((entry) => entry.params.trade_status),
    );
    expect(statuses).toEqual(['TRADE_SUCCESS', 'TRADE_FINISHED']);
  });
});

describe('notification retry schedule', () => {
  it('gives up after 8 sends', async () => {
    const sandbox = await startAlipaySandbox({ timeFactor: 0.00001 });
    const receiver = await startNotifyReceiver([], 'fail');
    try {
      const app = await registerTestApp(sandbox);
      await app.call(
        'alipay.trade.precreate',
        { out_trade_no: 'G-1', total_amount: '1.00', subject: 'x' },
        { notify_url: receiver.url },
      );
      await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/G-1/pay`, {});
      const record = await waitFor(() => {
        const [entry] = sandbox.gateway.notifier.list({ outTradeNo: 'G-1' });
        return entry?.gaveUp && entry;
      }, 10_000);
      expect(record.attempts).toHaveLength(8);
      expect(receiver.received).toHaveLength(8);
      expect(record.acknowledged).toBe(false);
    } finally {
      await receiver.close();
      await sandbox.close();
    }
  });
});
