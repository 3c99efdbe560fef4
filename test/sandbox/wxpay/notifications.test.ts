import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NOTIFY_RETRY_SCHEDULE_SECONDS } from '../../../src/sandbox/wxpay/index.ts';
import {
  buildSandbox,
  decryptResource,
  nativeOrder,
  registerMerchant,
  type SandboxUnderTest,
  signedCall,
  type TestMerchant,
  verifyGatewaySignature,
} from './support/merchant-client.ts';
import { type NotifyReceiver, startNotifyReceiver } from './support/notify-receiver.ts';

let sandbox: SandboxUnderTest;
let merchant: TestMerchant;
let receiver: NotifyReceiver;

beforeAll(async () => {
  // 15 s of gateway time is 15 ms here.
  sandbox = await buildSandbox({ timeFactor: 0.001 });
  // One order is refunded three times in a row to see each refund outcome's notification, so the
  // minute WeChat wants between refunds of one order is switched off.
  merchant = await registerMerchant(sandbox.app, 'publicKey', { refundSpacing: false });
});
afterAll(() => sandbox.app.close());
beforeEach(async () => {
  receiver = await startNotifyReceiver();
  await sandbox.app.inject({ method: 'DELETE', url: '/sandbox/faults' });
});
afterEach(() => receiver.close());

async function createOrder(): Promise<string> {
  const order = nativeOrder(merchant, { notify_url: receiver.url, attach: 'cart=42' });
  const response = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);
  expect(response.status).toBe(200);
  return order.out_trade_no as string;
}
const pay = (outTradeNo: string) =>
  sandbox.app.inject({ method: 'POST', url: `/sandbox/trades/${merchant.mchid}/${outTradeNo}/pay` });
const addFault = async (fault: Record<string, unknown>) => {
  const response = await sandbox.app.inject({ method: 'POST', url: '/sandbox/faults', payload: fault });
  expect(response.statusCode).toBe(200);
};
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('payment notifications', () => {
  it('POSTs TRANSACTION.SUCCESS signed by the gateway key, with the transaction encrypted under the APIv3 key', async () => {
    const outTradeNo = await createOrder();
    await pay(outTradeNo);
    const [notification] = await receiver.waitFor(1);
    expect(notification!.headers['content-type']).toBe('application/json');
    expect(verifyGatewaySignature(merchant, notification!.headers, notification!.body)).toBe(true);
    const envelope = JSON.parse(notification!.body);
    expect(envelope).toMatchObject({
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: {
        original_type: 'transaction',
        algorithm: 'AEAD_AES_256_GCM',
        associated_data: 'transaction',
      },
    });
    expect(envelope.create_time).toMatch(/\+08:00$/);
    expect(envelope.resource.nonce).toHaveLength(12);
    const transaction = JSON.parse(decryptResource(merchant.apiV3Key, envelope.resource));
    expect(transaction).toMatchObject({
      mchid: merchant.mchid,
      out_trade_no: outTradeNo,
      trade_state: 'SUCCESS',
      attach: 'cart=42',
      amount: { total: 100 },
    });
    expect(() => decryptResource('0'.repeat(32), envelope.resource)).toThrow();
  });

  it('retries on the WeChat schedule until the merchant answers 2xx, then stops', async () => {
    receiver.answers.push(500, 404, 503);
    const outTradeNo = await createOrder();
    await pay(outTradeNo);
    const received = await receiver.waitFor(4);
    const ids = new Set(received.map((item) => JSON.parse(item.body).id));
    expect(ids.size).toBe(1);
    const gaps = received.slice(1).map((item, index) => item.at - received[index]!.at);
    // 15 s, 15 s, 30 s of gateway time at timeFactor 0.001.
    expect(gaps[0]).toBeGreaterThanOrEqual(14);
    expect(gaps[2]).toBeGreaterThanOrEqual(29);
    await settle(250);
    expect(receiver.received).toHaveLength(4);
    const [record] = (
      await sandbox.app.inject({ url: `/sandbox/notifications?out_trade_no=${outTradeNo}` })
    ).json();
    expect(record.state).toBe('delivered');
    expect(record.attempts.map((attempt: { status: number }) => attempt.status)).toEqual([
      500, 404, 503, 204,
    ]);
  });

  it('uses the documented 15-step schedule', () => {
    expect(NOTIFY_RETRY_SCHEDULE_SECONDS).toEqual([
      15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
    ]);
  });

  it('sends REFUND.SUCCESS, REFUND.ABNORMAL and REFUND.CLOSED to the refund notify_url', async () => {
    const outTradeNo = await createOrder();
    await pay(outTradeNo);
    await receiver.waitFor(1);
    const refunds = ['RN-OK', 'RN-AB', 'RN-CL'];
    for (const outRefundNo of refunds) {
      const response = await signedCall(sandbox.app, merchant, 'POST', '/v3/refund/domestic/refunds', {
        out_trade_no: outTradeNo,
        out_refund_no: `${outRefundNo}-${outTradeNo}`,
        notify_url: receiver.url,
        amount: { refund: 10, total: 100, currency: 'CNY' },
      });
      expect(response.status).toBe(200);
    }
    const act = (no: string, action: string) =>
      sandbox.app.inject({
        method: 'POST',
        url: `/sandbox/refunds/${merchant.mchid}/${no}-${outTradeNo}/${action}`,
      });
    await act('RN-OK', 'succeed');
    await act('RN-AB', 'abnormal');
    await act('RN-CL', 'close');
    const received = (await receiver.waitFor(4)).slice(1);
    const events = received.map((item) => {
      expect(verifyGatewaySignature(merchant, item.headers, item.body)).toBe(true);
      const envelope = JSON.parse(item.body);
      return {
        event: envelope.event_type,
        resource: JSON.parse(decryptResource(merchant.apiV3Key, envelope.resource)),
      };
    });
    expect(events.map((item) => item.event).sort()).toEqual([
      'REFUND.ABNORMAL',
      'REFUND.CLOSED',
      'REFUND.SUCCESS',
    ]);
    const success = events.find((item) => item.event === 'REFUND.SUCCESS')!.resource;
    expect(success).toMatchObject({
      out_trade_no: outTradeNo,
      refund_status: 'SUCCESS',
      amount: { total: 100, refund: 10, payer_total: 100, payer_refund: 10 },
    });
    expect(success.success_time).toMatch(/\+08:00$/);
  });
});

describe('notification faults', () => {
  it('drop: the notification never arrives, and the order can still be queried as paid', async () => {
    await addFault({ channel: 'notify', kind: 'drop', mchid: merchant.mchid });
    const outTradeNo = await createOrder();
    await pay(outTradeNo);
    await settle(100);
    expect(receiver.received).toHaveLength(0);
    const query = await signedCall(
      sandbox.app,
      merchant,
      'GET',
      `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${merchant.mchid}`,
    );
    expect(query.json().trade_state).toBe('SUCCESS');
    // Consumed: the next payment is notified normally.
    await pay(await createOrder());
    await receiver.waitFor(1);
  });

  it('duplicate: the same notification id arrives twice', async () => {
    await addFault({ channel: 'notify', kind: 'duplicate' });
    await pay(await createOrder());
    const received = await receiver.waitFor(2);
    expect(JSON.parse(received[0]!.body).id).toBe(JSON.parse(received[1]!.body).id);
    await settle(50);
    expect(receiver.received).toHaveLength(2);
  });

  it('delay: the first attempt waits the given real milliseconds', async () => {
    await addFault({ channel: 'notify', kind: 'delay', delayMs: 150 });
    const started = Date.now();
    await pay(await createOrder());
    const [notification] = await receiver.waitFor(1);
    expect(notification!.at - started).toBeGreaterThanOrEqual(140);
  });

  it('reorder: a held notification arrives after the next one', async () => {
    const first = await createOrder();
    const second = await createOrder();
    await addFault({ channel: 'notify', kind: 'reorder', outTradeNo: first, delayMs: 5000 });
    await pay(first);
    await settle(30);
    expect(receiver.received).toHaveLength(0);
    await pay(second);
    const received = await receiver.waitFor(2);
    const order = received.map(
      (item) => JSON.parse(decryptResource(merchant.apiV3Key, JSON.parse(item.body).resource)).out_trade_no,
    );
    expect(order).toEqual([second, first]);
  });

  it('signTest: the probe fails verification, the merchant answers 401, and the retry is genuine', async () => {
    await addFault({ channel: 'notify', kind: 'signTest' });
    receiver.answers.push(401);
    await pay(await createOrder());
    const received = await receiver.waitFor(2);
    expect(received[0]!.headers['wechatpay-signature']).toMatch(/^WECHATPAY\/SIGNTEST\//);
    expect(verifyGatewaySignature(merchant, received[0]!.headers, received[0]!.body)).toBe(false);
    expect(verifyGatewaySignature(merchant, received[1]!.headers, received[1]!.body)).toBe(true);
  });

  it('staleTimestamp and unknownSerial notifications fail verification', async () => {
    await addFault({ channel: 'notify', kind: 'staleTimestamp' });
    await addFault({ channel: 'notify', kind: 'unknownSerial' });
    receiver.answers.push(401, 401);
    await pay(await createOrder());
    const received = await receiver.waitFor(3);
    expect(Number(received[0]!.headers['wechatpay-timestamp'])).toBeLessThan(Date.now() / 1000 - 300);
    expect(verifyGatewaySignature(merchant, received[0]!.headers, received[0]!.body)).toBe(false);
    expect(received[1]!.headers['wechatpay-serial']).not.toBe(merchant.credentials.publicKeyId);
    expect(verifyGatewaySignature(merchant, received[1]!.headers, received[1]!.body)).toBe(false);
    expect(verifyGatewaySignature(merchant, received[2]!.headers, received[2]!.body)).toBe(true);
  });
});
