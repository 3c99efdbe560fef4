import { createSign, generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { createDouyinProvider } from '../../src/providers/douyin/index.ts';
import { type RunningDouyinSandbox, startDouyinSandbox } from '../../src/sandbox/douyin/index.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { signedApi } from '../support/signed-client.ts';
import { API_APP, eventually, MERCHANT, tradeNumbers } from './harness.ts';

/** A merchant whose Douyin app uses the legacy guaranteed payment. */
const LEGACY = 'shop-legacy';
const SKU = {
  type: 401,
  tagGroupId: 'tag_group_7272625659887960076',
  imageUrl: 'https://example.com/sku.png',
};

describe.each(backends)('Douyin end to end on $name', (backend) => {
  let emulator: RunningDouyinSandbox;
  let vkPay: VkPay;
  let app: FastifyInstance;
  let api: ReturnType<typeof signedApi>;
  let trade: { appId: string; platformPublicKeyPem: string };
  let ecpay: { appId: string; salt: string; token: string };
  /** Another trade app on the same platform, not configured here. */
  let stranger: { appId: string; platformPrivateKey: ReturnType<typeof generateKeyPairSync>['privateKey'] };
  const handled: string[] = [];
  const failedOnce = new Set<string>();
  const next = tradeNumbers('DY');

  // biome-ignore lint/suspicious/noExplicitAny: tests read the emulator's answers freely
  const control = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: any }> => {
    const response = await fetch(`${emulator.controlUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, json: await response.json() };
  };
  const notifyUrl = (merchant = MERCHANT) => `${vkPay.context.publicUrl}/notify/douyin/${merchant}`;
  const post = async (url: string, headers: Record<string, string>, body: string) => {
    const response = await fetch(url, { method: 'POST', headers, body });
    return { status: response.status, text: await response.text() };
  };
  const notificationsOf = async (appId: string, outNo: string) =>
    (
      (await control('GET', `/notifications?appId=${appId}`)).json as {
        body: string;
        headers: Record<string, string>;
        type: string;
        delivered: boolean;
        attempts: { status: number | null }[];
      }[]
    ).filter((record) => record.body.includes(outNo));
  const createTrade = async (outTradeNo: string, totalFee: number) => {
    const created = await api('POST', '/api/payments', {
      provider: 'douyin',
      scene: 'miniprogram',
      out_trade_no: outTradeNo,
      total_fee: totalFee,
      subject: 'coins',
      type: 'goods',
    });
    expect(created.status).toBe(200);
    return created.json.data.payment as { data: string; byteAuthorization: string };
  };

  beforeAll(async () => {
    emulator = await startDouyinSandbox({ timeFactor: 0.001 });
    const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const registered = await control('POST', '/apps', {
      appPublicKeyPem: appKeys.publicKey.export({ type: 'spki', format: 'pem' }),
      keyVersion: '2',
      refundMode: 'manual',
    });
    expect(registered.status).toBe(200);
    trade = registered.json;
    const legacy = await control('POST', '/apps', { api: 'ecpay' });
    ecpay = legacy.json;
    const other = emulator.gateway.registerApp({
      appPublicKeyPem: appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    stranger = { appId: other.appId, platformPrivateKey: other.platformPrivateKey };
    const provider = createDouyinProvider({
      merchants: [
        {
          merchantId: MERCHANT,
          appId: trade.appId,
          appSecret: registered.json.appSecret,
          privateKey: appKeys.privateKey,
          keyVersion: '2',
          platformPublicKey: trade.platformPublicKeyPem,
          sku: SKU,
          baseUrl: emulator.url,
          timeoutMs: 2_000,
        },
        {
          merchantId: LEGACY,
          api: 'ecpay',
          appId: ecpay.appId,
          salt: ecpay.salt,
          token: ecpay.token,
          baseUrl: emulator.url,
          timeoutMs: 2_000,
        },
      ],
    });
    vkPay = await backend.open({ providers: [provider] });
    vkPay.onPaid('goods', ({ order }) => {
      handled.push(order.outTradeNo);
    });
    vkPay.onPaid('vip', ({ order }) => {
      // Fails on its first run: the platform must send the callback again.
      if (!failedOnce.has(order.outTradeNo)) {
        failedOnce.add(order.outTradeNo);
        throw new Error('the business work failed this time');
      }
      handled.push(order.outTradeNo);
    });
    app = await buildApp({ vkPay, apps: [API_APP] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    api = signedApi(vkPay.context.publicUrl, API_APP);
  });
  afterAll(async () => {
    await emulator?.close();
    await app?.close();
    await vkPay?.close();
  });

  it('a miniprogram payment gives tt.requestOrder its signed order; paid once, however often the callback comes', async () => {
    const no = next();
    const params = await createTrade(no, 1200);
    const data = JSON.parse(params.data);
    expect(data).toMatchObject({
      outOrderNo: no,
      totalAmount: 1200,
      payNotifyUrl: notifyUrl(),
      skuList: [{ price: 1200, quantity: 1, title: 'coins', type: 401, tagGroupId: SKU.tagGroupId }],
      orderEntrySchema: { path: 'pages/order/detail' },
    });
    expect(params.byteAuthorization).toMatch(
      new RegExp(
        `^SHA256-RSA2048 appid=${trade.appId},nonce_str=\\w+,timestamp=\\d+,key_version=2,signature=[A-Za-z0-9+/=]+$`,
      ),
    );
    // The mini app hands both to tt.requestOrder, then the buyer pays at the cashier.
    const placed = await control('POST', '/request-order', params);
    expect(placed.status).toBe(200);
    expect((await control('POST', `/orders/${trade.appId}/${no}/pay`)).status).toBe(200);
    const order = await eventually(
      () => vkPay.getOrder(MERCHANT, no),
      (found) => found.status === 'SUCCESS',
    );
    expect(order).toMatchObject({ status: 'SUCCESS', transactionId: placed.json.orderId });
    const [callback] = await eventually(
      () => notificationsOf(trade.appId, no),
      (records) => records[0]?.delivered === true,
    );
    // The platform sends it again (it missed our answer), twice at once: still one payment.
    const again = await Promise.all([1, 2].map(() => post(notifyUrl(), callback!.headers, callback!.body)));
    expect(again.map((answer) => answer.status)).toEqual([200, 200]);
    expect(JSON.parse(again[0]!.text)).toEqual({ err_no: 0, err_tips: 'success' });
    expect(handled.filter((handledNo) => handledNo === no)).toHaveLength(1);
    const queried = await api('GET', `/api/payments/${no}`);
    expect(queried.json.data.order).toMatchObject({ status: 'SUCCESS' });
  });

  it("a tampered, a forged and another app's callback are refused 401 and change nothing", async () => {
    const no = next();
    await control('POST', '/request-order', await createTrade(no, 500));
    const paid = await emulator.gateway.notifier.signed(emulator.gateway.app(trade.appId), 'payment', {
      app_id: trade.appId,
      status: 'SUCCESS',
      order_id: 'motb-forged',
      out_order_no: no,
      total_amount: 500,
      event_time: Date.now(),
    });
    // Tampered: the amount changed after signing.
    const tampered = paid.body.replace('500', '5');
    expect((await post(notifyUrl(), paid.headers, tampered)).status).toBe(401);
    // Forged: signed with a key that is not the platform's.
    const forger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ts = paid.headers['Byte-Timestamp']!;
    const nonce = paid.headers['Byte-Nonce-Str']!;
    const forgedSignature = createSign('RSA-SHA256')
      .update(`${ts}\n${nonce}\n${paid.body}\n`)
      .sign(forger.privateKey, 'base64');
    expect(
      (await post(notifyUrl(), { ...paid.headers, 'Byte-Signature': forgedSignature }, paid.body)).status,
    ).toBe(401);
    // No signature at all.
    expect((await post(notifyUrl(), { 'content-type': 'application/json' }, paid.body)).status).toBe(401);
    // Genuinely signed by the platform, but for another app.
    const foreign = emulator.gateway.notifier.signed(emulator.gateway.app(stranger.appId), 'payment', {
      app_id: stranger.appId,
      status: 'SUCCESS',
      order_id: 'motb-other',
      out_order_no: no,
      total_amount: 500,
    });
    expect((await post(notifyUrl(), foreign.headers, foreign.body)).status).toBe(401);
    expect(await vkPay.getOrder(MERCHANT, no)).toMatchObject({ status: 'NOTPAY' });
    // The genuine one still applies.
    expect((await post(notifyUrl(), paid.headers, paid.body)).status).toBe(200);
    expect(await vkPay.getOrder(MERCHANT, no)).toMatchObject({ status: 'SUCCESS' });
  });

  it('a query learns a payment whose callback did not arrive yet; a refund settles by its callback', async () => {
    const no = next();
    await control('POST', '/request-order', await createTrade(no, 900));
    emulator.gateway.pay(trade.appId, no);
    const synced = await vkPay.queryPayment(MERCHANT, no);
    expect(synced.order.status).toBe('SUCCESS');
    const refund = await api('POST', '/api/refunds', {
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 400,
    });
    expect(refund.status).toBe(200);
    expect(refund.json.data.refund.status).toBe('PROCESSING');
    // More than what is left is refused by the platform, and here.
    const over = await api('POST', '/api/refunds', {
      out_trade_no: no,
      out_refund_no: `${no}R2`,
      refund_fee: 600,
    });
    expect(over.status).toBeGreaterThanOrEqual(400);
    expect(emulator.gateway.refund(trade.appId, `${no}R1`).status).toBe('PROCESSING');
    await control('POST', `/refunds/${trade.appId}/${no}R1/result`, { status: 'SUCCESS' });
    const order = await eventually(
      () => vkPay.getOrder(MERCHANT, no),
      (found) => found.status === 'PARTIAL_REFUNDED',
    );
    expect(order).toMatchObject({ status: 'PARTIAL_REFUNDED', refundedFen: 400 });
    const queried = await api('GET', `/api/refunds/${no}R1`);
    expect(queried.json.data.refund.status).toBe('SUCCESS');
    // The refund callback again: nothing is refunded twice.
    const [refundCallback] = (await notificationsOf(trade.appId, `${no}R1`)).filter(
      (record) => record.type === 'refund',
    );
    expect((await post(notifyUrl(), refundCallback!.headers, refundCallback!.body)).status).toBe(200);
    expect(await vkPay.getOrder(MERCHANT, no)).toMatchObject({
      status: 'PARTIAL_REFUNDED',
      refundedFen: 400,
    });
  });

  it('reordered callbacks: a late CANCEL after the payment leaves the order paid', async () => {
    const no = next();
    await control('POST', '/request-order', await createTrade(no, 300));
    const gateway = emulator.gateway;
    const app = gateway.app(trade.appId);
    const cancel = gateway.notifier.signed(app, 'payment', {
      app_id: trade.appId,
      status: 'CANCEL',
      order_id: 'x',
      out_order_no: no,
      total_amount: 300,
    });
    gateway.pay(trade.appId, no);
    await eventually(
      () => vkPay.getOrder(MERCHANT, no),
      (found) => found.status === 'SUCCESS',
    );
    expect((await post(notifyUrl(), cancel.headers, cancel.body)).status).toBe(200);
    expect(await vkPay.getOrder(MERCHANT, no)).toMatchObject({ status: 'SUCCESS' });
  });

  it('a callback our handler failed is answered for a resend, and the resend runs it once', async () => {
    const no = next();
    const created = await api('POST', '/api/payments', {
      provider: 'douyin',
      scene: 'miniprogram',
      out_trade_no: no,
      total_fee: 1500,
      subject: 'vip month',
      type: 'vip',
    });
    await control('POST', '/request-order', created.json.data.payment);
    await control('POST', `/orders/${trade.appId}/${no}/pay`);
    const [record] = await eventually(
      () => notificationsOf(trade.appId, no),
      (records) => records[0]?.delivered === true,
    );
    expect(record!.attempts.length).toBeGreaterThanOrEqual(2);
    expect(record!.attempts[0]!.status).toBe(500);
    expect(handled.filter((handledNo) => handledNo === no)).toHaveLength(1);
    expect(await vkPay.getOrder(MERCHANT, no)).toMatchObject({ status: 'SUCCESS' });
  });

  it('the platform refuses an order whose byteAuthorization does not verify or whose data was changed', async () => {
    const params = await createTrade(next(), 700);
    const changed = params.data.replace('"totalAmount":700', '"totalAmount":7');
    expect((await control('POST', '/request-order', { ...params, data: changed })).json.err_no).toBe(11004);
  });

  it('legacy guaranteed payment: tt.pay order, salted-sign calls, msg_signature callbacks, refund', async () => {
    const no = next();
    const created = await vkPay.pay({
      merchantId: LEGACY,
      provider: 'douyin',
      scene: 'miniprogram',
      out_trade_no: no,
      total_fee: 800,
      subject: 'vip',
      type: 'goods',
    });
    const payment = created.client as { orderInfo: { order_id: string; order_token: string } };
    expect(payment).toMatchObject({
      service: 5,
      orderInfo: { order_id: expect.any(String), order_token: expect.any(String) },
    });
    expect((await control('POST', '/tt-pay', { orderInfo: payment.orderInfo })).status).toBe(200);
    await eventually(
      () => vkPay.getOrder(LEGACY, no),
      (found) => found.status === 'SUCCESS',
    );
    expect(handled.filter((handledNo) => handledNo === no)).toHaveLength(1);
    const [callback] = await notificationsOf(ecpay.appId, no);
    const body = JSON.parse(callback!.body);
    const forged = JSON.stringify({
      ...body,
      msg: body.msg.replace('"total_amount":800', '"total_amount":8'),
    });
    expect((await post(notifyUrl(LEGACY), { 'content-type': 'application/json' }, forged)).status).toBe(401);
    expect(
      (await post(notifyUrl(LEGACY), { 'content-type': 'application/json' }, callback!.body)).status,
    ).toBe(200);
    expect(handled.filter((handledNo) => handledNo === no)).toHaveLength(1);
    expect((await vkPay.queryPayment(LEGACY, no)).order.status).toBe('SUCCESS');
    const refund = await vkPay.refund({
      merchantId: LEGACY,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 800,
    });
    // The platform settles it moments later by itself; its callback may win the race with the answer.
    expect(['PROCESSING', 'SUCCESS']).toContain(refund.refund.status);
    const order = await eventually(
      () => vkPay.getOrder(LEGACY, no),
      (found) => found.status === 'REFUNDED',
      10_000,
    );
    expect(order.refundedFen).toBe(800);
  });
});
