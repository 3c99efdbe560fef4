/**
 * Partner mode (服务商) of our provider against the emulator over real sockets: one service
 * provider's keys, two sub-merchants that are merchants of ours, each seeing only its own orders,
 * refunds, bills and notifications.
 */
import { createVerify, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPayError, PayError } from '../../../src/core/errors.ts';
import type { PaymentOrder } from '../../../src/providers/provider.ts';
import { createWxpayProvider, type WxpayProvider } from '../../../src/providers/wxpay/index.ts';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../../src/sandbox/wxpay/index.ts';
import { type NotifyReceiver, startNotifyReceiver } from '../../sandbox/wxpay/support/notify-receiver.ts';

const SP_MCHID = '1900009001';
const SP_APPID = 'wx5555555555555555';
const SUB_A = '1900009101';
const SUB_B = '1900009102';
const SUB_A_APPID = 'wx6666666666666601';

let sandbox: RunningWxpaySandbox;
let receiver: NotifyReceiver;
let wx: WxpayProvider;
let merchantKey: KeyObject;
let sequence = 0;
const outTradeNo = () => `PT${Date.now().toString(36)}${++sequence}`;

const control = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
  const response = await fetch(`${sandbox.url}/sandbox${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the control API's answers are read freely
  return { status: response.status, json: (await response.json()) as any };
};

beforeAll(async () => {
  sandbox = await startWxpaySandbox({ timeFactor: 0.001 });
  receiver = await startNotifyReceiver();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  merchantKey = publicKey;
  const apiV3Key = randomBytes(16).toString('hex');
  const serialNo = randomBytes(20).toString('hex').toUpperCase();
  const registered = await control('POST', '/merchants', {
    mchid: SP_MCHID,
    appid: SP_APPID,
    apiV3Key,
    merchantSerialNo: serialNo,
    merchantPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    keyMode: 'publicKey',
    refundSpacing: false,
  });
  expect(registered.status).toBe(200);
  expect(
    (await control('POST', '/sub-merchants', { spMchid: SP_MCHID, subMchid: SUB_A, subAppid: SUB_A_APPID }))
      .status,
  ).toBe(200);
  expect((await control('POST', '/sub-merchants', { spMchid: SP_MCHID, subMchid: SUB_B })).status).toBe(200);
  wx = createWxpayProvider({
    serviceProviders: [
      {
        id: 'sp1',
        spMchId: SP_MCHID,
        spAppId: SP_APPID,
        serialNo,
        privateKey,
        apiV3Key,
        wechatpayPublicKey: { id: registered.json.publicKeyId, pem: registered.json.publicKeyPem },
        baseUrl: sandbox.url,
        retry: { maxAttempts: 1 },
      },
    ],
    merchants: [
      { merchantId: 'shopA', serviceProvider: 'sp1', subMchId: SUB_A, subAppId: SUB_A_APPID },
      { merchantId: 'shopB', serviceProvider: 'sp1', subMchId: SUB_B },
      // Authorised under no service provider of ours at the emulator.
      { merchantId: 'stranger', serviceProvider: 'sp1', subMchId: '1900009199' },
    ],
  });
});
afterAll(async () => {
  await receiver?.close();
  await sandbox?.close();
});

const order = (merchantId: string, overrides: Partial<PaymentOrder> = {}): PaymentOrder => ({
  merchantId,
  outTradeNo: outTradeNo(),
  totalFen: 1200,
  subject: '服务商订单',
  scene: 'native',
  notifyUrl: `${receiver.url}/${merchantId}`,
  ...overrides,
});

const payAt = (subMchid: string, no: string, body: unknown = {}) =>
  control('POST', `/trades/${subMchid}/${no}/pay`, body);

/** The notification the emulator delivered for an order, as received (headers and body). */
async function notificationFor(no: string, eventType = 'TRANSACTION.SUCCESS') {
  const records = await control('GET', `/notifications?out_trade_no=${no}`);
  const record = (records.json as Array<{ body: string; eventType: string }>).find(
    (entry) => entry.eventType === eventType,
  )!;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const received = receiver.received.find((entry) => entry.body === record.body);
    if (received) return received;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no ${eventType} notification for ${no} arrived`);
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 0,
    (error: unknown) =>
      isPayError(error) ? `${error.code} ${error.gatewayCode ?? ''}`.trim() : String(error),
  );

describe('wxpay partner mode against the emulator', () => {
  it('JSAPI with a sub_appid names the payer by sub_openid and signs paySign for the sub_appid', async () => {
    const created = await wx.createPayment(order('shopA', { scene: 'jsapi', openid: 'oSubOpenid000001' }));
    const client = created.client as {
      appId: string;
      timeStamp: string;
      nonceStr: string;
      package: string;
      paySign: string;
    };
    expect(client.appId).toBe(SUB_A_APPID);
    const message = `${client.appId}\n${client.timeStamp}\n${client.nonceStr}\n${client.package}\n`;
    expect(createVerify('RSA-SHA256').update(message).verify(merchantKey, client.paySign, 'base64')).toBe(
      true,
    );
    expect(wx.identity('shopA', 'jsapi')).toEqual({ mchId: SUB_A, appId: SUB_A_APPID });
  });

  it('JSAPI without a sub_appid pays under sp_appid with sp_openid; APP names the sub_mchid as partnerid', async () => {
    const jsapi = await wx.createPayment(order('shopB', { scene: 'jsapi', openid: 'oSpOpenid0000001' }));
    expect((jsapi.client as { appId: string }).appId).toBe(SP_APPID);
    const app = await wx.createPayment(order('shopA', { scene: 'app' }));
    expect(app.client).toMatchObject({ appid: SUB_A_APPID, partnerid: SUB_A });
    const h5 = await wx.createPayment(order('shopB', { scene: 'h5', clientIp: '203.0.113.8' }));
    expect((h5.client as { h5Url: string }).h5Url).toMatch(/prepay_id=/);
  });

  it('pays, notifies with sub_mchid, queries by number and by id, and refunds for the right sub-merchant', async () => {
    const created = order('shopA');
    await wx.createPayment(created);
    expect((await payAt(SUB_A, created.outTradeNo)).status).toBe(200);
    const delivered = await notificationFor(created.outTradeNo);
    const event = await wx.parseNotify('shopA', delivered.headers, Buffer.from(delivered.body));
    expect(event.kind).toBe('payment');
    expect(event.result).toMatchObject({
      merchantId: 'shopA',
      outTradeNo: created.outTradeNo,
      status: 'SUCCESS',
      mchId: SUB_A,
      // The order was placed with A's sub_appid, which the notification names.
      appId: SUB_A_APPID,
      amountFen: 1200,
    });
    expect(wx.identity('shopA', 'native')).toEqual({ mchId: SUB_A, appId: SUB_A_APPID });
    const byNumber = await wx.queryPayment({ merchantId: 'shopA', outTradeNo: created.outTradeNo });
    expect(byNumber).toMatchObject({ status: 'SUCCESS', mchId: SUB_A });
    const byId = await wx.queryPayment({
      merchantId: 'shopA',
      outTradeNo: created.outTradeNo,
      transactionId: byNumber.transactionId!,
    });
    expect(byId.transactionId).toBe(byNumber.transactionId);

    const refund = await wx.refund({
      merchantId: 'shopA',
      outTradeNo: created.outTradeNo,
      outRefundNo: `R${created.outTradeNo}`,
      refundFen: 200,
      totalFen: 1200,
      notifyUrl: `${receiver.url}/shopA`,
    });
    expect(refund.status).toBe('PROCESSING');
    expect(
      await wx.queryRefund({
        merchantId: 'shopA',
        outTradeNo: created.outTradeNo,
        outRefundNo: `R${created.outTradeNo}`,
      }),
    ).toMatchObject({
      status: 'PROCESSING',
      refundFen: 200,
    });
    await control('POST', `/refunds/${SUB_A}/R${created.outTradeNo}/succeed`);
    const refunded = await notificationFor(created.outTradeNo, 'REFUND.SUCCESS');
    const refundEvent = await wx.parseNotify('shopA', refunded.headers, Buffer.from(refunded.body));
    expect(refundEvent).toMatchObject({ kind: 'refund', result: { status: 'SUCCESS', merchantId: 'shopA' } });
    // Sub-merchant B cannot read that refund.
    expect(
      await codeOf(
        wx.queryRefund({
          merchantId: 'shopB',
          outTradeNo: created.outTradeNo,
          outRefundNo: `R${created.outTradeNo}`,
        }),
      ),
    ).toMatch(/^40005/);
  });

  it("a sub-merchant cannot see, close or refund another sub-merchant's order", async () => {
    const created = order('shopA');
    await wx.createPayment(created);
    await payAt(SUB_A, created.outTradeNo);
    expect(await codeOf(wx.queryPayment({ merchantId: 'shopB', outTradeNo: created.outTradeNo }))).toBe(
      '40005 ORDER_NOT_EXIST',
    );
    expect(await codeOf(wx.closePayment({ merchantId: 'shopB', outTradeNo: created.outTradeNo }))).toBe(
      '40005 ORDER_NOT_EXIST',
    );
    expect(
      await codeOf(
        wx.refund({
          merchantId: 'shopB',
          outTradeNo: created.outTradeNo,
          outRefundNo: `RB${created.outTradeNo}`,
          refundFen: 100,
          totalFen: 1200,
          notifyUrl: `${receiver.url}/shopB`,
        }),
      ),
    ).toMatch(/^40005/);
    // And the number stays taken under the service provider: B cannot place an order with it.
    expect(await codeOf(wx.createPayment(order('shopB', { outTradeNo: created.outTradeNo })))).toMatch(
      /^40001/,
    );
  });

  it("a genuine notification for A's order is refused on B's notify URL", async () => {
    const created = order('shopA');
    await wx.createPayment(created);
    await payAt(SUB_A, created.outTradeNo);
    const delivered = await notificationFor(created.outTradeNo);
    const refused = await wx.parseNotify('shopB', delivered.headers, Buffer.from(delivered.body)).then(
      () => null,
      (error: unknown) => error as PayError,
    );
    expect(refused).toBeInstanceOf(PayError);
    expect(refused).toMatchObject({ code: 40002, field: 'sub_mchid' });
  });

  it('closes an unpaid order of its own', async () => {
    const created = order('shopB');
    await wx.createPayment(created);
    await wx.closePayment({ merchantId: 'shopB', outTradeNo: created.outTradeNo });
    expect((await wx.queryPayment({ merchantId: 'shopB', outTradeNo: created.outTradeNo })).status).toBe(
      'CLOSED',
    );
  });

  it('a sub-merchant not authorised under the service provider is refused by the gateway', async () => {
    expect(await codeOf(wx.createPayment(order('stranger')))).toMatch(/INVALID_REQUEST$/);
  });

  it("downloads the service provider's bill narrowed to one sub-merchant", async () => {
    const gateway = sandbox.gateway;
    const paidA = order('shopA');
    const paidB = order('shopB');
    await wx.createPayment(paidA);
    await wx.createPayment(paidB);
    await payAt(SUB_A, paidA.outTradeNo);
    await payAt(SUB_B, paidB.outTradeNo);
    // The bill of the day appears the next day from 10:00 China time.
    gateway.runtime.clock.setOffset(gateway.runtime.clock.offsetMs + 36 * 3_600_000);
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const billA = await wx.downloadTradeBill!('shopA', today);
    const numbers = billA.records.map((record) => record.outTradeNo);
    expect(numbers).toContain(paidA.outTradeNo);
    expect(numbers).not.toContain(paidB.outTradeNo);
    gateway.runtime.clock.setOffset(gateway.runtime.clock.offsetMs - 36 * 3_600_000);
  });

  it('reports a sub-merchant with its service provider in its account facts', () => {
    const [facts] = wx.accountFacts!('shopA');
    expect(facts).toMatchObject({
      mchId: SUB_A,
      appId: SUB_A_APPID,
      serviceProvider: { id: 'sp1', mchId: SP_MCHID, appId: SP_APPID },
    });
  });
});

describe('wxpay partner mode payment codes against the emulator', () => {
  const code = async (behaviour: 'pays' | 'password' | 'never') => {
    const issued = await control('POST', '/payment-codes', { behaviour });
    expect(issued.status).toBe(200);
    return issued.json.auth_code as string;
  };
  const trade = (subMchid: string, no: string) => control('GET', `/trades/${subMchid}/${no}`);

  it("pays a sub-merchant's code at once through the partner codepay, bound to its sub_mchid and sub_appid", async () => {
    const no = outTradeNo();
    expect(wx.identity('shopA', 'micropay')).toEqual({ mchId: SUB_A, appId: SUB_A_APPID });
    expect(wx.identity('shopB', 'micropay')).toEqual({ mchId: SUB_B, appId: SP_APPID });
    const created = await wx.createPayment(
      order('shopA', { outTradeNo: no, scene: 'micropay', authCode: await code('pays') }),
    );
    expect(created.result).toMatchObject({
      status: 'SUCCESS',
      outTradeNo: no,
      mchId: SUB_A,
      appId: SUB_A_APPID,
      amountFen: 1200,
    });
    expect(created.result?.transactionId).toMatch(/^\d{20,}$/);
    const held = await trade(SUB_A, no);
    expect(held.json.transaction).toMatchObject({
      sp_mchid: SP_MCHID,
      sub_mchid: SUB_A,
      trade_type: 'MICROPAY',
    });
    // The other sub-merchant does not see it.
    expect(await codeOf(wx.queryPayment({ merchantId: 'shopB', outTradeNo: no }))).toMatch(/^40005/);
  });

  it('a sub-merchant without a sub_appid: the password, USERPAYING, then SUCCESS on query', async () => {
    const no = outTradeNo();
    const created = await wx.createPayment(
      order('shopB', { outTradeNo: no, scene: 'micropay', authCode: await code('password') }),
    );
    expect(created.result).toMatchObject({ status: 'USERPAYING', mchId: SUB_B });
    expect((await payAt(SUB_B, no)).status).toBe(200);
    expect(await wx.queryPayment({ merchantId: 'shopB', outTradeNo: no })).toMatchObject({
      status: 'SUCCESS',
      mchId: SUB_B,
      appId: SP_APPID,
    });
  });

  it('a code never confirmed is reversed by its own sub-merchant only; another cannot reverse it', async () => {
    const no = outTradeNo();
    const created = await wx.createPayment(
      order('shopA', { outTradeNo: no, scene: 'micropay', authCode: await code('never') }),
    );
    expect(created.result?.status).toBe('USERPAYING');
    // shopB has no trade under that number: nothing reversed at shopA.
    expect(await wx.reversePayment!({ merchantId: 'shopB', outTradeNo: no })).toBe('reversed');
    expect((await trade(SUB_A, no)).json.transaction.trade_state).toBe('USERPAYING');
    expect(await wx.reversePayment!({ merchantId: 'shopA', outTradeNo: no })).toBe('reversed');
    expect((await trade(SUB_A, no)).json.transaction.trade_state).toBe('REVOKED');
    expect(await wx.queryPayment({ merchantId: 'shopA', outTradeNo: no })).toMatchObject({
      status: 'CLOSED',
    });
  });

  it('a sub-merchant not authorised under the service provider cannot take a code', async () => {
    const refused = await codeOf(
      wx.createPayment(order('stranger', { scene: 'micropay', authCode: await code('pays') })),
    );
    expect(refused).not.toBe(0);
    expect(String(refused)).not.toMatch(/^5/);
  });
});
