import { createHash, createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { createWxpayVirtualProvider } from '../../src/providers/wxpay-virtual/index.ts';
import {
  type RunningWxVirtualSandbox,
  startWxVirtualSandbox,
} from '../../src/sandbox/wxpay-virtual/index.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { signedApi } from '../support/signed-client.ts';
import { API_APP, eventually, MERCHANT, tradeNumbers } from './harness.ts';

const hmac = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex');
const sha1 = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');

describe.each(backends)('WeChat mini program virtual payment end to end on $name', (backend) => {
  let emulator: RunningWxVirtualSandbox;
  let vkPay: VkPay;
  let app: FastifyInstance;
  let api: ReturnType<typeof signedApi>;
  // biome-ignore lint/suspicious/noExplicitAny: the emulator's registration answer
  let mp: Record<string, any>;
  let notifyUrl: string;
  const handled: string[] = [];
  const tradeNo = tradeNumbers('VP');

  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${emulator.controlUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: tests read the emulator's answers freely
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };
  const login = async () =>
    (await control('POST', `/apps/${mp.appId}/sessions`, {})).json as { openid: string; session_key: string };
  const create = async (no: string, buyer: { openid: string; session_key: string }, extra: object = {}) =>
    api('POST', '/api/payments', {
      provider: 'wxpay-virtual',
      out_trade_no: no,
      total_fee: 600,
      subject: 'sixty coins',
      type: 'goods',
      openid: buyer.openid,
      session_key: buyer.session_key,
      context: { platform: 'mp-weixin' },
      other: { productId: 'coins_60' },
      ...extra,
    });
  const confirm = (openid: string, payment: Record<string, string>) =>
    control('POST', `/apps/${mp.appId}/payments`, { openid, ...payment });
  const status = async (no: string) => (await vkPay.getOrder(MERCHANT, no)).status;
  // biome-ignore lint/suspicious/noExplicitAny: the emulator's push records
  type Push = Record<string, any>;
  const pushesOf = async (outTradeNo: string): Promise<Push[]> =>
    ((await control('GET', `/pushes?appId=${mp.appId}`)).json as unknown as Push[]).filter(
      (p) => p.message.OutTradeNo === outTradeNo || p.message.MchOrderId === outTradeNo,
    );
  const paidOrder = async () => {
    const buyer = await login();
    const no = tradeNo();
    const created = await create(no, buyer);
    expect(created.status).toBe(200);
    expect((await confirm(buyer.openid, created.json.data.payment)).status).toBe(200);
    expect(
      await eventually(
        () => status(no),
        (s) => s === 'SUCCESS',
      ),
    ).toBe('SUCCESS');
    return { no, buyer };
  };
  const postPush = async (query: Record<string, string>, body: string) =>
    fetch(`${notifyUrl}?${new URLSearchParams(query)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  beforeAll(async () => {
    emulator = await startWxVirtualSandbox({ timeFactor: 0.001 });
    mp = (await control('POST', '/apps', { products: { coins_60: 600, coins_10: 100 }, coinPriceFen: 10 }))
      .json;
    const provider = createWxpayVirtualProvider({
      merchants: [
        {
          merchantId: MERCHANT,
          appId: mp.appId,
          appSecret: mp.appSecret,
          offerId: mp.offerId,
          appKey: mp.appKey,
          sandboxAppKey: mp.sandboxAppKey,
          env: 1,
          pushToken: mp.pushToken,
          encodingAesKey: mp.encodingAesKey,
          originalId: mp.originalId,
          products: { coins_60: 600, coins_10: 100 },
          coinPriceFen: 10,
          baseUrl: emulator.url,
          timeoutMs: 2_000,
        },
      ],
    });
    vkPay = await backend.open({ providers: [provider] });
    vkPay.onPaid('goods', ({ order }) => {
      handled.push(order.outTradeNo);
    });
    app = await buildApp({ vkPay, apps: [API_APP] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    notifyUrl = `${vkPay.context.publicUrl}/notify/wxpay-virtual/${MERCHANT}`;
    await control('PATCH', `/apps/${mp.appId}`, { pushUrl: notifyUrl, pushMode: 'plain' });
    api = signedApi(vkPay.context.publicUrl, API_APP);
  });
  afterAll(async () => {
    await emulator?.close();
    await app?.close();
    await vkPay?.close();
  });

  it('creates the arguments of wx.requestVirtualPayment, signed with the sandbox AppKey and the session_key', async () => {
    const buyer = await login();
    const no = tradeNo();
    const created = await create(no, buyer);
    expect(created.status).toBe(200);
    expect(created.json.data.scene).toBe('miniprogram');
    const payment = created.json.data.payment;
    expect(payment.mode).toBe('short_series_goods');
    expect(JSON.parse(payment.signData)).toEqual({
      offerId: mp.offerId,
      buyQuantity: 1,
      env: 1,
      currencyType: 'CNY',
      platform: 'android',
      productId: 'coins_60',
      goodsPrice: 600,
      outTradeNo: no,
      attach: '',
    });
    expect(payment.paySig).toBe(hmac(mp.sandboxAppKey, `requestVirtualPayment&${payment.signData}`));
    expect(payment.signature).toBe(hmac(buyer.session_key, payment.signData));
    // The session_key reaches no row.
    const rows = JSON.stringify([
      await vkPay.store.db.selectFrom('payment_orders').selectAll().where('out_trade_no', '=', no).execute(),
      await vkPay.store.db.selectFrom('payment_logs').selectAll().where('out_trade_no', '=', no).execute(),
    ]);
    expect(rows).toContain(no);
    expect(rows).not.toContain(buyer.session_key);
  });

  it('refuses a create without session_key, outside a mini program, or at another price', async () => {
    const buyer = await login();
    const missing = await create(
      tradeNo(),
      { openid: buyer.openid, session_key: '' },
      { session_key: undefined },
    );
    expect(missing.json.code).toBe(40001);
    expect(missing.json.field ?? JSON.stringify(missing.json)).toContain('session_key');
    const outside = await create(tradeNo(), buyer, { context: { platform: 'h5' }, scene: 'h5' });
    expect(outside.json.code).toBe(40001);
    const price = await create(tradeNo(), buyer, { total_fee: 500 });
    expect(price.json.code).toBe(40001);
    const app = await create(tradeNo(), buyer, { context: { platform: 'app' } });
    expect(app.json).toMatchObject({ code: 40001, field: 'context.platform' });
    const iphone = await create(tradeNo(), buyer, {
      context: {
        platform: 'mp-weixin',
        userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.50 miniProgram',
      },
    });
    expect(iphone.json).toMatchObject({ code: 40009, field: 'context.userAgent' });
  });

  it('the emulator refuses a payment whose signature is not the buyer session_key', async () => {
    const buyer = await login();
    const other = await login();
    const created = await create(tradeNo(), buyer);
    const refused = await confirm(other.openid, created.json.data.payment);
    expect(refused.status).toBe(400);
    expect(refused.json.errMsg).toContain('signature');
    const tampered = await confirm(buyer.openid, {
      ...created.json.data.payment,
      signData: created.json.data.payment.signData.replace('"goodsPrice":600', '"goodsPrice":1'),
    });
    expect(tampered.json.errMsg).toContain('paySig');
  });

  it('a delivery push pays the order once, through duplicates, and the push is acknowledged as WeChat expects', async () => {
    const { no } = await paidOrder();
    const push = (await pushesOf(no))[0] ?? {};
    expect(push.event).toBe('xpay_goods_deliver_notify');
    await eventually(
      async () => (await pushesOf(no))[0]?.delivered,
      (delivered) => delivered === true,
    );
    expect(JSON.parse((await pushesOf(no))[0]?.attempts.at(-1).body)).toEqual({
      ErrCode: 0,
      ErrMsg: 'success',
    });
    for (let i = 0; i < 3; i++) await control('POST', `/pushes/${push.id}/resend`);
    expect(handled.filter((n) => n === no)).toHaveLength(1);
    const events = await vkPay.store.db
      .selectFrom('webhook_events')
      .select('type')
      .where('out_trade_no', '=', no)
      .execute();
    expect(events.map((e) => e.type)).toEqual(['payment.succeeded']);
    const order = await vkPay.getOrder(MERCHANT, no);
    expect(order).toMatchObject({ totalFen: 600, transactionId: expect.stringMatching(/^42000/) });
    // WeChat marks the order delivered once the push is taken.
    expect((await control('GET', `/apps/${mp.appId}/orders/${no}`)).json.status).toBe(4);
  });

  it('coins (short_series_coin) are bought by the number the amount pays for, and their push pays the order', async () => {
    const buyer = await login();
    const no = tradeNo();
    const created = await create(no, buyer, { other: { mode: 'short_series_coin' } });
    const payment = created.json.data.payment;
    expect(payment.mode).toBe('short_series_coin');
    expect(JSON.parse(payment.signData)).toMatchObject({ buyQuantity: 60, env: 1, outTradeNo: no });
    expect(JSON.parse(payment.signData)).not.toHaveProperty('productId');
    expect((await confirm(buyer.openid, payment)).status).toBe(200);
    expect(
      await eventually(
        () => status(no),
        (s) => s === 'SUCCESS',
      ),
    ).toBe('SUCCESS');
    expect((await pushesOf(no))[0]?.event).toBe('xpay_coin_pay_notify');
    expect(handled.filter((n) => n === no)).toHaveLength(1);
  });

  it('a query reads the order from query_order, with a token fetched again once expired', async () => {
    const buyer = await login();
    const no = tradeNo();
    const created = await create(no, buyer);
    expect((await vkPay.queryPayment(MERCHANT, no)).orderPaid).toBe(false);
    await control('PATCH', `/apps/${mp.appId}`, { pushUrl: `${notifyUrl}-unreachable` });
    try {
      await confirm(buyer.openid, created.json.data.payment);
      await control('POST', `/apps/${mp.appId}/expire-tokens`);
      const queried = await vkPay.queryPayment(MERCHANT, no);
      expect(queried.orderPaid).toBe(true);
      expect(queried.order.status).toBe('SUCCESS');
    } finally {
      await control('PATCH', `/apps/${mp.appId}`, { pushUrl: notifyUrl });
    }
    expect(handled.filter((n) => n === no)).toHaveLength(1);
  });

  it('a refund goes through refund_order and settles by its push; a late delivery push changes nothing', async () => {
    const { no } = await paidOrder();
    const first = await vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 200,
    });
    // WeChat answers refund_order at once and pushes the result; the push may win the race with
    // the answer, so the refund reads as processing or already settled.
    expect(['PROCESSING', 'SUCCESS']).toContain(first.refund.status);
    const settled = await eventually(
      async () => (await vkPay.queryRefund(MERCHANT, `${no}R1`)).refund.status,
      (s) => s === 'SUCCESS',
    );
    expect(settled).toBe('SUCCESS');
    expect(await status(no)).toBe('PARTIAL_REFUNDED');
    const rest = await vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R2`,
      refund_fee: 400,
    });
    expect(['PROCESSING', 'SUCCESS']).toContain(rest.refund.status);
    expect(
      await eventually(
        () => status(no),
        (s) => s === 'REFUNDED',
      ),
    ).toBe('REFUNDED');
    const refundPush = (await pushesOf(no)).find((p) => p.message.MchRefundId === `${no}R2`);
    expect(refundPush?.event).toBe('xpay_refund_notify');
    // Reordered: the delivery push again after the refunds.
    const delivery = (await pushesOf(no)).find((p) => p.event === 'xpay_goods_deliver_notify');
    await control('POST', `/pushes/${delivery?.id}/resend`);
    await control('POST', `/pushes/${refundPush?.id}/resend`);
    expect(await status(no)).toBe('REFUNDED');
    expect((await vkPay.getOrder(MERCHANT, no)).refundedFen).toBe(600);
    expect(handled.filter((n) => n === no)).toHaveLength(1);
    // More than is left is refused here, before WeChat.
    const over = await vkPay
      .refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R3`, refund_fee: 1 })
      .then(
        () => 0,
        (error) => error.code,
      );
    expect(over).not.toBe(0);
  });

  it('a refund WeChat fails is closed and its amount can be refunded again', async () => {
    const { no } = await paidOrder();
    await control('POST', '/faults', { appId: mp.appId, api: 'refund_result', errcode: 268490013 });
    await vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}F1`, refund_fee: 600 });
    expect(
      await eventually(
        async () => (await vkPay.queryRefund(MERCHANT, `${no}F1`)).refund.status,
        (s) => s === 'CLOSED',
      ),
    ).toBe('CLOSED');
    expect(await status(no)).toBe('SUCCESS');
    await vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}F2`, refund_fee: 600 });
    expect(
      await eventually(
        () => status(no),
        (s) => s === 'REFUNDED',
      ),
    ).toBe('REFUNDED');
  });

  it('the encrypted (安全) mode pays an order; a tampered or forged push is refused and changes nothing', async () => {
    await control('PATCH', `/apps/${mp.appId}`, { pushMode: 'aes' });
    try {
      const { no } = await paidOrder();
      const push = (await pushesOf(no))[0] ?? {};
      expect(push.attempts.at(-1).status).toBe(200);
    } finally {
      await control('PATCH', `/apps/${mp.appId}`, { pushMode: 'plain' });
    }
    const buyer = await login();
    const no = tradeNo();
    await create(no, buyer);
    const message = JSON.stringify({
      ToUserName: mp.originalId,
      MsgType: 'event',
      Event: 'xpay_goods_deliver_notify',
      OpenId: buyer.openid,
      OutTradeNo: no,
      Env: 1,
      WeChatPayInfo: { MchOrderNo: 'x', TransactionId: '4200000000', PaidTime: 1 },
      GoodsInfo: { ProductId: 'coins_60', Quantity: 1, OrigPrice: 600, ActualPrice: 600 },
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = '12345';
    // Plain mode, signed with a wrong token.
    const forged = await postPush(
      { timestamp, nonce, signature: sha1('not-the-token', timestamp, nonce) },
      message,
    );
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ ErrCode: 40002 });
    // Encrypted for another mini program, with the right key and token: refused by its appid.
    const { sealForTest } = await import('../support/wx-virtual-seal.ts');
    const foreign = sealForTest(mp.encodingAesKey, message, 'wx0000000000000000');
    const foreignPush = await postPush(
      { timestamp, nonce, encrypt_type: 'aes', msg_signature: sha1(mp.pushToken, timestamp, nonce, foreign) },
      JSON.stringify({ ToUserName: mp.originalId, Encrypt: foreign }),
    );
    expect(foreignPush.status).toBe(401);
    // Tampered ciphertext with a signature over the original.
    const genuine = sealForTest(mp.encodingAesKey, message, mp.appId);
    const flipped = Buffer.from(genuine, 'base64');
    flipped[20] = (flipped[20] ?? 0) ^ 1;
    const tampered = await postPush(
      { timestamp, nonce, encrypt_type: 'aes', msg_signature: sha1(mp.pushToken, timestamp, nonce, genuine) },
      JSON.stringify({ ToUserName: mp.originalId, Encrypt: flipped.toString('base64') }),
    );
    expect(tampered.status).toBe(401);
    expect(await status(no)).toBe('NOTPAY');
    // The genuine one, for contrast, pays it.
    const accepted = await postPush(
      { timestamp, nonce, encrypt_type: 'aes', msg_signature: sha1(mp.pushToken, timestamp, nonce, genuine) },
      JSON.stringify({ ToUserName: mp.originalId, Encrypt: genuine }),
    );
    expect(await accepted.json()).toEqual({ ErrCode: 0, ErrMsg: 'success' });
    expect(await status(no)).toBe('SUCCESS');
  });

  it('answers the push URL check with echostr only when its signature verifies', async () => {
    const timestamp = '1700000000';
    const nonce = '42';
    const good = await fetch(
      `${notifyUrl}?${new URLSearchParams({ timestamp, nonce, echostr: 'hello', signature: sha1(mp.pushToken, timestamp, nonce) })}`,
    );
    expect(await good.text()).toBe('hello');
    const bad = await fetch(
      `${notifyUrl}?${new URLSearchParams({ timestamp, nonce, echostr: 'hello', signature: sha1('x', timestamp, nonce) })}`,
    );
    expect(bad.status).toBe(404);
  });
});
