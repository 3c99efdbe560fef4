import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  type NotifyReceiver,
  registerTestApp,
  rsa2Verify,
  signedRequest,
  startNotifyReceiver,
  type TestApp,
  testNotifySigningString,
  waitFor,
} from './helpers.ts';

describe('fault injection', () => {
  let sandbox: RunningAlipaySandbox;
  let app: TestApp;
  let certApp: TestApp;
  let receiver: NotifyReceiver | undefined;
  let sequence = 0;

  beforeAll(async () => {
    sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
    app = await registerTestApp(sandbox);
    certApp = await registerTestApp(sandbox, 'certificate');
  });
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
    await controlJson(`${sandbox.controlUrl}/faults`, undefined, 'DELETE');
  });
  afterAll(async () => sandbox.close());

  const addFault = (spec: Record<string, unknown>) => controlJson(`${sandbox.controlUrl}/faults`, spec);
  const query = (outTradeNo = 'none') => app.call('alipay.trade.query', { out_trade_no: outTradeNo });

  it('20000 isp.unknow-error for the next N requests, then normal answers', async () => {
    const fault = await addFault({ kind: 'unknownError', appId: app.appId, times: 2 });
    expect(fault.json).toMatchObject({ kind: 'unknownError', remaining: 2, channel: 'api' });
    for (let i = 0; i < 2; i++) {
      const result = await query();
      expect(result.inner).toMatchObject({
        code: '20000',
        msg: 'Service Currently Unavailable',
        sub_code: 'isp.unknow-error',
      });
      expect(rsa2Verify(result.signedText, result.sign!, app.credentials.alipayPublicKey!)).toBe(true);
    }
    expect((await query()).inner.sub_code).toBe('ACQ.TRADE_NOT_EXIST');
    expect((await controlJson<unknown[]>(`${sandbox.controlUrl}/faults`)).json).toEqual([]);
  });

  it('ACQ.SYSTEM_ERROR only for the matching method and order', async () => {
    await addFault({ kind: 'systemError', method: 'alipay.trade.precreate', outTradeNo: 'F-sys' });
    expect((await query('F-sys')).inner.sub_code).toBe('ACQ.TRADE_NOT_EXIST');
    const other = await app.call('alipay.trade.precreate', {
      out_trade_no: 'F-other',
      total_amount: '1.00',
      subject: 'x',
    });
    expect(other.inner.code).toBe('10000');
    const hit = await app.call('alipay.trade.precreate', {
      out_trade_no: 'F-sys',
      total_amount: '1.00',
      subject: 'x',
    });
    expect(hit.inner).toMatchObject({ code: '40004', sub_code: 'ACQ.SYSTEM_ERROR' });
  });

  it('a business error with a chosen sub_code', async () => {
    await addFault({
      kind: 'businessError',
      subCode: 'ACQ.SELLER_BALANCE_NOT_ENOUGH',
      method: 'alipay.trade.refund',
    });
    const result = await app.call('alipay.trade.refund', { out_trade_no: 'x', refund_amount: '1.00' });
    expect(result.inner).toMatchObject({ code: '40004', sub_code: 'ACQ.SELLER_BALANCE_NOT_ENOUGH' });
  });

  it('afterHandling: the write happens, but the client sees the error', async () => {
    const outTradeNo = `F-after-${++sequence}`;
    await app.call('alipay.trade.precreate', {
      out_trade_no: outTradeNo,
      total_amount: '1.00',
      subject: 'x',
    });
    await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}/pay`, {});
    await addFault({ kind: 'unknownError', method: 'alipay.trade.refund', afterHandling: true });
    const refund = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '1.00',
      out_request_no: 'A',
    });
    expect(refund.inner.sub_code).toBe('isp.unknow-error');
    const again = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '1.00',
      out_request_no: 'A',
    });
    expect(again.inner).toMatchObject({ code: '10000', fund_change: 'N', refund_fee: '1.00' });
  });

  it('slow and hung responses', async () => {
    await addFault({ kind: 'delay', delayMs: 300 });
    const started = Date.now();
    expect((await query()).inner.code).toBe('40004');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);

    await addFault({ kind: 'hang' });
    const params = signedRequest(app.appId, 'alipay.trade.query', { out_trade_no: 'x' }, app.keys.privateKey);
    await expect(
      fetch(sandbox.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(300),
      }),
    ).rejects.toThrow(/abort|timeout/i);
    expect((await query()).inner.code).toBe('40004');
  });

  it('a bad response signature and a wrong alipay_cert_sn', async () => {
    await addFault({ kind: 'badSignature', appId: app.appId });
    const bad = await query();
    expect(bad.inner.sub_code).toBe('ACQ.TRADE_NOT_EXIST');
    expect(rsa2Verify(bad.signedText, bad.sign!, app.credentials.alipayPublicKey!)).toBe(false);

    await addFault({ kind: 'wrongCertSn', appId: certApp.appId });
    const wrong = await certApp.call('alipay.trade.query', { out_trade_no: 'none' });
    expect(wrong.alipayCertSn).not.toBe(certApp.credentials.alipayCertSn);
    expect(rsa2Verify(wrong.signedText, wrong.sign!, certApp.credentials.alipayPublicKey!)).toBe(true);
  });

  it('rejects an unknown fault kind', async () => {
    const result = await addFault({ kind: 'meteor' });
    expect(result.status).toBe(400);
  });

  async function paidTrade(): Promise<string> {
    receiver ??= await startNotifyReceiver();
    const outTradeNo = `F-N-${++sequence}`;
    await app.call(
      'alipay.trade.precreate',
      { out_trade_no: outTradeNo, total_amount: '1.00', subject: 'x' },
      { notify_url: receiver.url },
    );
    await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}/pay`, {});
    return outTradeNo;
  }

  it('notification dropped: the first send never arrives, the retry does', async () => {
    await addFault({ channel: 'notify', kind: 'drop' });
    const outTradeNo = await paidTrade();
    const first = await waitFor(() => receiver!.received[0]);
    const record = sandbox.gateway.notifier.list({ outTradeNo })[0]!;
    expect(record.attempts[0]).toMatchObject({ fault: 'drop' });
    expect(first.at - record.attempts[0]!.at).toBeGreaterThanOrEqual(220);
  });

  it('notification duplicated: the same notify_id arrives twice', async () => {
    await addFault({ channel: 'notify', kind: 'duplicate' });
    await paidTrade();
    const received = await waitFor(() => receiver!.received.length >= 2 && receiver!.received);
    expect(received[0]!.rawBody).toBe(received[1]!.rawBody);
  });

  it('notification delayed, and reordered behind the next one', async () => {
    await addFault({ channel: 'notify', kind: 'delay', delayMs: 200 });
    const started = Date.now();
    await paidTrade();
    const delayed = await waitFor(() => receiver!.received[0]);
    expect(delayed.at - started).toBeGreaterThanOrEqual(180);

    await receiver!.close();
    receiver = undefined;
    await addFault({ channel: 'notify', kind: 'reorder', delayMs: 2000 });
    const held = await paidTrade();
    const next = await paidTrade();
    const order = await waitFor(
      () => receiver!.received.length >= 2 && receiver!.received.map((entry) => entry.params.out_trade_no),
    );
    expect(order).toEqual([next, held]);
  });

  it('notification badly signed once, then signed correctly on the retry', async () => {
    await addFault({ channel: 'notify', kind: 'badSignature' });
    receiver = await startNotifyReceiver();
    const verifies = (params: Record<string, string>) =>
      rsa2Verify(testNotifySigningString(params), params.sign!, app.credentials.alipayPublicKey!);
    // A merchant that checks signatures answers "fail" to the bad one, so Alipay retries.
    receiver.answers.push('fail');
    await paidTrade();
    const received = await waitFor(() => receiver!.received.length >= 2 && receiver!.received);
    expect(verifies(received[0]!.params)).toBe(false);
    expect(verifies(received[1]!.params)).toBe(true);
  });
});
