import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import {
  type AppleIapMerchantConfig,
  type AppleIapProvider,
  createAppleIapProvider,
} from '../../src/providers/appleiap/index.ts';
import { type RunningAppleSandbox, startAppleSandbox } from '../../src/sandbox/appleiap/index.ts';
import { signAppleJws } from '../../src/sandbox/appleiap/signing.ts';
import { AppleTestCa } from '../../src/sandbox/appleiap/test-ca.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { createClient, isSuccess, storeKitPurchase } from '../../src/web/index.ts';
import { backends } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';
import { API_APP, codeOf, eventually, MERCHANT } from './harness.ts';

const BUNDLE = 'com.example.vkpay.e2e';
const ISSUER = randomUUID();
const KEY_ID = 'E2EKEY0001';

describe.each(backends)('Apple in-app purchase end to end on $name', (backend) => {
  let emulator: RunningAppleSandbox;
  let vkPay: VkPay;
  let app: FastifyInstance;
  let notifyUrl: string;
  const handled: string[] = [];
  let merchantConfig: (overrides: Partial<AppleIapMerchantConfig>) => AppleIapMerchantConfig;

  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${emulator.controlUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };
  /** Buys with the App Store's purchase notification sent to the service. */
  const buyNotified = async (productId: string, appAccountToken?: string) =>
    (
      await control('POST', '/purchases', {
        bundleId: BUNDLE,
        productId,
        environment: 'Sandbox',
        ...(appAccountToken ? { appAccountToken } : {}),
      })
    ).json as {
      transactionId: string;
      signedTransactionInfo: string;
      receipt: string;
      notification: { notificationUUID: string; notificationType: string; signedPayload: string };
    };
  /** Buys with the purchase notification lost: only the app's hand-over can pay it. */
  const buy = async (productId: string, appAccountToken?: string) => {
    const emulated = emulator.gateway.apps.get(BUNDLE);
    const url = emulated?.notificationUrls.Sandbox;
    if (emulated) delete emulated.notificationUrls.Sandbox;
    try {
      return await buyNotified(productId, appAccountToken);
    } finally {
      if (emulated && url) emulated.notificationUrls.Sandbox = url;
    }
  };
  const postNotification = async (signedPayload: string) =>
    (
      await fetch(notifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ signedPayload }),
      })
    ).status;
  const orderRow = (outTradeNo: string) => vkPay.getOrder(MERCHANT, outTradeNo);
  const eventsOf = async (outTradeNo: string) =>
    (
      await vkPay.store.db
        .selectFrom('webhook_events')
        .select('type')
        .where('out_trade_no', '=', outTradeNo)
        .execute()
    ).map((row) => row.type);

  beforeAll(async () => {
    emulator = await startAppleSandbox({ timeFactor: 0.001 });
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const registered = await control('POST', '/apps', {
      bundleId: BUNDLE,
      issuerId: ISSUER,
      keyId: KEY_ID,
      publicKeyPem: key.publicKey.export({ type: 'spki', format: 'pem' }),
      products: [
        { productId: 'coins_60', type: 'Consumable', price: 6000, currency: 'CNY' },
        { productId: 'vip_month', type: 'Auto-Renewable Subscription', price: 25000, currency: 'CNY' },
      ],
    });
    expect(registered.status).toBe(200);
    merchantConfig = (overrides) => ({
      merchantId: MERCHANT,
      bundleId: BUNDLE,
      issuerId: ISSUER,
      keyId: KEY_ID,
      privateKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      environment: 'Sandbox',
      rootCertificates: [registered.json.rootCertificatePem],
      products: { coins_60: { totalFen: 600, type: 'goods' }, vip_month: { totalFen: 2500, type: 'vip' } },
      baseUrl: emulator.url,
      sandboxBaseUrl: emulator.sandboxUrl,
      sharedSecret: registered.json.sharedSecret,
      receiptBaseUrl: emulator.url,
      sandboxReceiptBaseUrl: emulator.sandboxUrl,
      timeoutMs: 2_000,
      ...overrides,
    });
    const provider = createAppleIapProvider({
      merchants: [
        {
          merchantId: MERCHANT,
          bundleId: BUNDLE,
          issuerId: ISSUER,
          keyId: KEY_ID,
          privateKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          environment: 'Sandbox',
          rootCertificates: [registered.json.rootCertificatePem],
          products: {
            coins_60: { totalFen: 600, type: 'goods' },
            vip_month: { totalFen: 2500, type: 'vip' },
          },
          baseUrl: emulator.url,
          sandboxBaseUrl: emulator.sandboxUrl,
          sharedSecret: registered.json.sharedSecret,
          receiptBaseUrl: emulator.url,
          sandboxReceiptBaseUrl: emulator.sandboxUrl,
          timeoutMs: 2_000,
        },
      ],
    });
    vkPay = await backend.open({ providers: [provider] });
    vkPay.onPaid('goods', ({ order }) => {
      handled.push(order.outTradeNo);
    });
    vkPay.onPaid('vip', ({ order }) => {
      handled.push(order.outTradeNo);
    });
    app = await buildApp({ vkPay, apps: [API_APP] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    notifyUrl = `${vkPay.context.publicUrl}/notify/appleiap/${MERCHANT}`;
    const emulated = emulator.gateway.apps.get(BUNDLE);
    if (emulated) emulated.notificationUrls.Sandbox = notifyUrl;
  });
  afterAll(async () => {
    await emulator?.close();
    await app?.close();
    await vkPay?.close();
  });

  it('a purchase handed over twice pays one order and runs its handler once', async () => {
    const userId = `u-${randomUUID()}`;
    const bought = await buy('coins_60', vkPay.storeAccountToken(MERCHANT, userId));
    const first = await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
      userId,
    });
    expect(first.outcome).toBe('applied');
    expect(first.order).toMatchObject({ status: 'SUCCESS', totalFen: 600, type: 'goods', userId });
    const again = await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      signedTransaction: bought.signedTransactionInfo,
      userId,
    });
    expect(again.order.outTradeNo).toBe(first.order.outTradeNo);
    expect(again.outcome).not.toBe('applied');
    expect(handled.filter((no) => no === first.order.outTradeNo)).toHaveLength(1);
    expect(await eventsOf(first.order.outTradeNo)).toEqual(['payment.succeeded']);
  });

  it('a purchase pays the order it was made for, through the signed API', async () => {
    const outTradeNo = `IAPORD${Date.now().toString(36)}`;
    const { client } = await vkPay.pay({
      merchantId: MERCHANT,
      provider: 'appleiap',
      scene: 'app',
      out_trade_no: outTradeNo,
      total_fee: 2500,
      subject: 'VIP month',
      type: 'vip',
      other: { productId: 'vip_month' },
    });
    const token = (client as { appAccountToken: string }).appAccountToken;
    const bought = await buy('vip_month', token);
    const answer = await app.inject(
      signed(API_APP, 'POST', '/api/store-purchases', {
        provider: 'appleiap',
        transaction_id: bought.transactionId,
        out_trade_no: outTradeNo,
      }),
    );
    expect(answer.json()).toMatchObject({
      code: 0,
      data: { outcome: 'applied', order: { status: 'SUCCESS' } },
    });
    // The same transaction cannot pay a second order.
    const other = await vkPay.pay({
      merchantId: MERCHANT,
      provider: 'appleiap',
      scene: 'app',
      out_trade_no: `${outTradeNo}B`,
      total_fee: 2500,
      subject: 'VIP month',
      type: 'vip',
      other: { productId: 'vip_month' },
    });
    expect(other.order.status).toBe('NOTPAY');
    const reuse = vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
      outTradeNo: `${outTradeNo}B`,
    });
    expect(await codeOf(reuse)).toBe(40001);
    expect((await orderRow(`${outTradeNo}B`)).status).toBe('NOTPAY');
  });

  it('malformed store purchase requests answer 40001 and change nothing', async () => {
    for (const body of [
      [],
      {},
      { transaction_id: 12 },
      { transaction_id: '' },
      { provider: 'wxpay', transaction_id: '2000000000000001' },
      { provider: 'nope', transaction_id: '2000000000000001' },
      { transaction_id: 'x'.repeat(9000) },
      { signed_transaction: 'a.b.c' },
    ]) {
      const answer = await app.inject(signed(API_APP, 'POST', '/api/store-purchases', body));
      expect(answer.statusCode, JSON.stringify(body).slice(0, 80)).toBeLessThan(500);
      expect([40001, 40002], JSON.stringify(body).slice(0, 80)).toContain(answer.json().code);
    }
  });

  it('an order not paid yet stays NOTPAY when queried: the App Store has no purchase for it yet', async () => {
    const outTradeNo = `IAPQ${Date.now().toString(36)}`;
    await vkPay.pay({
      merchantId: MERCHANT,
      provider: 'appleiap',
      scene: 'app',
      out_trade_no: outTradeNo,
      total_fee: 600,
      subject: 'coins',
      type: 'goods',
      other: { productId: 'coins_60' },
    });
    const queried = await vkPay.queryPayment(MERCHANT, outTradeNo);
    expect(queried.order.status).toBe('NOTPAY');
    expect(queried.orderPaid).toBe(false);
    const closed = await vkPay.closePayment(MERCHANT, outTradeNo);
    expect(closed.status).toBe('CLOSED');
  });

  it("a purchase with another user's token is refused and pays nothing", async () => {
    const bought = await buy('coins_60', vkPay.storeAccountToken(MERCHANT, 'someone-else'));
    const refused = vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
      userId: 'me',
    });
    expect(await codeOf(refused)).toBe(40001);
    expect(await codeOf(orderRow(`IAP${bought.transactionId}`))).toBe(40005);
  });

  it('an unknown transaction id is 40005; a malformed one 40001', async () => {
    expect(
      await codeOf(
        vkPay.verifyStorePurchase({
          merchantId: MERCHANT,
          provider: 'appleiap',
          transactionId: '2999999999999999',
        }),
      ),
    ).toBe(40005);
    expect(
      await codeOf(
        vkPay.verifyStorePurchase({ merchantId: MERCHANT, provider: 'appleiap', transactionId: '../x' }),
      ),
    ).toBe(40001);
  });

  it('ONE_TIME_CHARGE pays the order whose token StoreKit took, once, though the app never hands the purchase over', async () => {
    const outTradeNo = `IAPN${Date.now().toString(36)}`;
    const { client } = await vkPay.pay({
      merchantId: MERCHANT,
      provider: 'appleiap',
      scene: 'app',
      out_trade_no: outTradeNo,
      total_fee: 600,
      subject: 'coins',
      type: 'goods',
      user_id: 'buyer-n1',
      other: { productId: 'coins_60' },
    });
    const bought = await buyNotified('coins_60', (client as { appAccountToken: string }).appAccountToken);
    expect(bought.notification.notificationType).toBe('ONE_TIME_CHARGE');
    const order = await eventually(
      () => orderRow(outTradeNo),
      (found) => found.status === 'SUCCESS',
    );
    expect(order).toMatchObject({ userId: 'buyer-n1', totalFen: 600 });
    await control('POST', `/notifications/${bought.notification.notificationUUID}/resend`);
    expect(await postNotification(bought.notification.signedPayload)).toBe(200);
    // The app's late hand-over finds the order paid.
    const late = await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
      outTradeNo,
    });
    expect(late.outcome).not.toBe('applied');
    expect(handled.filter((no) => no === outTradeNo)).toHaveLength(1);
    expect(await eventsOf(outTradeNo)).toEqual(['payment.succeeded']);
    expect(await codeOf(orderRow(`IAP${bought.transactionId}`))).toBe(40005);
  });

  it('ONE_TIME_CHARGE with no order of ours makes one for the product, and the hand-over racing it pays it once', async () => {
    const userId = `u-${randomUUID()}`;
    const token = vkPay.storeAccountToken(MERCHANT, userId);
    const bought = await buy('coins_60', token);
    const [notified, handedOver] = await Promise.all([
      postNotification(bought.notification.signedPayload),
      vkPay
        .verifyStorePurchase({
          merchantId: MERCHANT,
          provider: 'appleiap',
          transactionId: bought.transactionId,
          userId,
        })
        .then(
          (done) => done.outcome,
          (error: { code?: number }) => error.code,
        ),
    ]);
    // A copy that lost the race is asked for again (500), as Apple retries it.
    expect([200, 500]).toContain(notified);
    expect(await postNotification(bought.notification.signedPayload)).toBe(200);
    const outTradeNo = `IAP${bought.transactionId}`;
    const order = await orderRow(outTradeNo);
    expect(order).toMatchObject({ status: 'SUCCESS', totalFen: 600, type: 'goods' });
    expect(order.custom).toMatchObject({
      productId: 'coins_60',
      originalTransactionId: bought.transactionId,
    });
    expect(['applied', 'already_applied', 40006, 40001]).toContain(handedOver);
    expect(handled.filter((no) => no === outTradeNo)).toHaveLength(1);
    expect(await eventsOf(outTradeNo)).toEqual(['payment.succeeded']);
  });

  it('SUBSCRIBED pays INITIAL_BUY and RESUBSCRIBE as orders of their own, the latter for the original buyer; DID_RENEW stays a new order', async () => {
    const userId = `u-${randomUUID()}`;
    const bought = await buyNotified('vip_month', vkPay.storeAccountToken(MERCHANT, userId));
    expect(bought.notification.notificationType).toBe('SUBSCRIBED');
    const first = await eventually(
      () => orderRow(`IAP${bought.transactionId}`).catch(() => null),
      (found) => found?.status === 'SUCCESS',
    );
    expect(first).toMatchObject({ type: 'vip', totalFen: 2500 });
    // The app hands it over with its user: the same order, nothing runs again.
    const handedOver = await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
      userId,
    });
    expect(handedOver.order.outTradeNo).toBe(`IAP${bought.transactionId}`);
    expect(handedOver.outcome).not.toBe('applied');
    await control('POST', `/transactions/${bought.transactionId}/expire`);
    const again = (await control('POST', `/transactions/${bought.transactionId}/resubscribe`)).json;
    expect(again.notification).toMatchObject({ notificationType: 'SUBSCRIBED', subtype: 'RESUBSCRIBE' });
    const resubscribed = await eventually(
      () => orderRow(`IAP${again.transactionId}`).catch(() => null),
      (found) => found?.status === 'SUCCESS',
    );
    expect(resubscribed?.custom).toMatchObject({ originalTransactionId: bought.transactionId });
    expect(await postNotification(again.notification.signedPayload)).toBe(200);
    const renewed = (await control('POST', `/transactions/${again.transactionId}/renew`)).json;
    const renewal = await eventually(
      () => orderRow(`IAP${renewed.transactionId}`).catch(() => null),
      (found) => found?.status === 'SUCCESS',
    );
    expect(renewal).toMatchObject({ type: 'vip', totalFen: 2500 });
    for (const no of [bought.transactionId, again.transactionId, renewed.transactionId])
      expect(handled.filter((paid) => paid === `IAP${no}`)).toHaveLength(1);
  });

  it("an old app's receipt pays through POST /api/store-purchases once, however it is handed over again", async () => {
    const userId = `u-${randomUUID()}`;
    const bought = await buy('coins_60', vkPay.storeAccountToken(MERCHANT, userId));
    const post = (body: Record<string, unknown>) =>
      app.inject(signed(API_APP, 'POST', '/api/store-purchases', { provider: 'appleiap', ...body }));
    const first = await post({ receipt: bought.receipt, user_id: userId });
    expect(first.json()).toMatchObject({
      code: 0,
      data: { outcome: 'applied', order: { out_trade_no: `IAP${bought.transactionId}`, status: 'SUCCESS' } },
    });
    const again = await post({ receipt: bought.receipt, user_id: userId });
    expect(again.json().data.outcome).not.toBe('applied');
    // The same purchase as a StoreKit 2 transaction: the same order, nothing runs again.
    const asTransaction = await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
      userId,
    });
    expect(asTransaction.order.outTradeNo).toBe(`IAP${bought.transactionId}`);
    expect(asTransaction.outcome).not.toBe('applied');
    const outTradeNo = `IAP${bought.transactionId}`;
    expect(handled.filter((no) => no === outTradeNo)).toHaveLength(1);
    expect(await eventsOf(outTradeNo)).toEqual(['payment.succeeded']);
  });

  it("a receipt pays the order of ours it names, picks the entry transaction_id names, and not another order's", async () => {
    const outTradeNo = `IAPRC${Date.now().toString(36)}`;
    await vkPay.pay({
      merchantId: MERCHANT,
      provider: 'appleiap',
      scene: 'app',
      out_trade_no: outTradeNo,
      total_fee: 2500,
      subject: 'VIP month',
      type: 'vip',
      other: { productId: 'vip_month' },
    });
    const first = await buy('coins_60');
    const sub = await buy('vip_month');
    const receipt = (
      await control('POST', '/receipts', { transactionIds: [first.transactionId, sub.transactionId] })
    ).json.receipt as string;
    const paid = await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      receipt,
      transactionId: sub.transactionId,
      outTradeNo,
    });
    expect(paid).toMatchObject({ outcome: 'applied', order: { status: 'SUCCESS', totalFen: 2500 } });
    // The same entry cannot pay a second order.
    expect(
      await codeOf(
        vkPay.verifyStorePurchase({
          merchantId: MERCHANT,
          provider: 'appleiap',
          receipt,
          transactionId: sub.transactionId,
        }),
      ),
    ).toBe(40006);
    expect(
      await codeOf(
        vkPay.verifyStorePurchase({
          merchantId: MERCHANT,
          provider: 'appleiap',
          receipt,
          transactionId: '2999999999999999',
        }),
      ),
    ).toBe(40005);
  });

  it('bad receipts answer the unified codes and change nothing', async () => {
    const post = async (body: Record<string, unknown>) => {
      const answer = await app.inject(
        signed(API_APP, 'POST', '/api/store-purchases', { provider: 'appleiap', ...body }),
      );
      expect(answer.statusCode, JSON.stringify(body).slice(0, 60)).toBeLessThan(500);
      return answer.json().code as number;
    };
    expect(await post({ receipt: 'not base64!' })).toBe(40001);
    expect(await post({ receipt: 12 })).toBe(40001);
    expect(await post({ receipt: 'x'.repeat(600_000) })).toBe(40001);
    expect(await post({ receipt: 'aGVsbG8=' })).toBe(40001);
    const forged = Buffer.from(`vkpay-appstore-receipt-v1:${'ab'.repeat(24)}`).toString('base64');
    expect(await post({ receipt: forged })).toBe(40002);
    const bought = await buy('coins_60');
    expect(await post({ receipt: bought.receipt, signed_transaction: bought.signedTransactionInfo })).toBe(
      40001,
    );
    expect(await post({ receipt: bought.receipt, transaction_id: '../1' })).toBe(40001);
    // A production receipt sent to this sandbox app: 21008.
    const production = (
      await control('POST', '/purchases', {
        bundleId: BUNDLE,
        productId: 'coins_60',
        environment: 'Production',
      })
    ).json;
    expect(await post({ receipt: production.receipt })).toBe(40001);
    expect(await codeOf(orderRow(`IAP${bought.transactionId}`))).toBe(40005);
    expect(await codeOf(orderRow(`IAP${production.transactionId}`))).toBe(40005);
  });

  it('a production app asks the sandbox after 21007 only when it accepts sandbox purchases; a wrong shared secret is 40003', async () => {
    const bought = await buy('coins_60');
    const production = (acceptSandbox: boolean, sharedSecret?: string) =>
      createAppleIapProvider({
        merchants: [
          merchantConfig({
            environment: 'Production',
            appAppleId: emulator.gateway.apps.get(BUNDLE)?.appAppleId ?? 1,
            acceptSandbox,
            ...(sharedSecret ? { sharedSecret } : {}),
          }),
        ],
      });
    const taken = await production(true).verifyReceipt(MERCHANT, undefined, { receipt: bought.receipt });
    expect(taken).toMatchObject({
      transactionId: bought.transactionId,
      environment: 'Sandbox',
      amountFen: 600,
    });
    expect(
      await codeOf(production(false).verifyReceipt(MERCHANT, undefined, { receipt: bought.receipt })),
    ).toBe(40001);
    const wrongSecret = createAppleIapProvider({
      merchants: [merchantConfig({ sharedSecret: '0'.repeat(32) })],
    });
    expect(await codeOf(wrongSecret.verifyReceipt(MERCHANT, undefined, { receipt: bought.receipt }))).toBe(
      40003,
    );
  });

  it('inside an iOS app the client gets productId and appAccountToken for StoreKit and hands the transaction back; elsewhere appleiap is refused', async () => {
    const order = (outTradeNo: string, context: Record<string, string>) =>
      app.inject(
        signed(API_APP, 'POST', '/api/payments', {
          provider: 'appleiap',
          out_trade_no: outTradeNo,
          total_fee: 600,
          subject: 'coins',
          type: 'goods',
          user_id: 'ios-buyer',
          other: { productId: 'coins_60' },
          context,
        }),
      );
    const android = await order(`IAPAND${Date.now().toString(36)}`, { platform: 'app', os: 'android' });
    expect(android.json()).toMatchObject({ code: 40001 });
    const outTradeNo = `IAPIOS${Date.now().toString(36)}`;
    const created = await order(outTradeNo, { platform: 'app-plus', os: 'ios' });
    expect(created.json()).toMatchObject({ code: 0, data: { scene: 'app' } });
    const storeKit = storeKitPurchase(created.json().data);
    expect(storeKit).toEqual({
      productId: 'coins_60',
      appAccountToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const bought = await buy(storeKit!.productId, storeKit!.appAccountToken);
    // The merchant's backend: adds nothing here, forwards to the signed API.
    const client = createClient({
      backend: { storePurchase: 'https://merchant.example/iap' },
      fetch: async (_url, init) => {
        const forwarded = await app.inject(
          signed(API_APP, 'POST', '/api/store-purchases', JSON.parse(String(init?.body))),
        );
        return new Response(forwarded.body, { status: forwarded.statusCode });
      },
    });
    const handed = await client.handOverPurchase({ transactionId: bought.transactionId, outTradeNo });
    expect(isSuccess(handed) && handed.data).toMatchObject({
      outcome: 'applied',
      order: { out_trade_no: outTradeNo, status: 'SUCCESS' },
    });
    const again = await client.handOverPurchase({
      signedTransaction: bought.signedTransactionInfo,
      outTradeNo,
    });
    expect(isSuccess(again) && again.data.outcome).not.toBe('applied');
    expect(await client.handOverPurchase({ outTradeNo })).toMatchObject({ code: 40001 });
    expect(handled.filter((no) => no === outTradeNo)).toHaveLength(1);
  });

  it('a renewal notification pays a new order of its type once, however often it arrives', async () => {
    const userId = `u-${randomUUID()}`;
    const bought = await buy('vip_month', vkPay.storeAccountToken(MERCHANT, userId));
    await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
      userId,
    });
    const renewed = await control('POST', `/transactions/${bought.transactionId}/renew`);
    const renewalNo = `IAP${renewed.json.transactionId}`;
    const order = await eventually(
      () => orderRow(renewalNo).catch(() => null),
      (found) => found?.status === 'SUCCESS',
    );
    expect(order).toMatchObject({ status: 'SUCCESS', type: 'vip', totalFen: 2500, userId });
    expect(order?.custom).toMatchObject({ originalTransactionId: bought.transactionId });
    await control('POST', `/notifications/${renewed.json.notification.notificationUUID}/resend`);
    expect(await postNotification(renewed.json.notification.signedPayload)).toBe(200);
    expect(handled.filter((no) => no === renewalNo)).toHaveLength(1);
  });

  it('a refund notification refunds the order once and fires the refund event; arriving before the renewal it still applies', async () => {
    const bought = await buy('vip_month');
    await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
    });
    // The emulator posts nowhere for this pair: the test delivers them itself, refund first.
    const emulated = emulator.gateway.apps.get(BUNDLE);
    if (emulated) delete emulated.notificationUrls.Sandbox;
    let renewal: { transactionId: string; notification: { signedPayload: string } };
    let refund: { notification: { signedPayload: string } };
    try {
      renewal = (await control('POST', `/transactions/${bought.transactionId}/renew`)).json as typeof renewal;
      refund = (await control('POST', `/transactions/${renewal.transactionId}/refund`)).json as typeof refund;
    } finally {
      if (emulated) emulated.notificationUrls.Sandbox = notifyUrl;
    }
    const renewalNo = `IAP${renewal.transactionId}`;
    expect(await postNotification(refund.notification.signedPayload)).toBe(200);
    expect(await postNotification(renewal.notification.signedPayload)).toBe(200);
    expect(await postNotification(refund.notification.signedPayload)).toBe(200);
    const order = await orderRow(renewalNo);
    expect(order).toMatchObject({ status: 'REFUNDED', refundedFen: 2500 });
    expect(handled.filter((no) => no === renewalNo)).toHaveLength(1);
    expect((await eventsOf(renewalNo)).sort()).toEqual(['payment.succeeded', 'refund.succeeded']);
  });

  /** Buys a subscription, hands it over, then has the store refund it and reverse the refund: the notifications, not yet delivered. */
  const refundAndReversal = async () => {
    const bought = await buy('vip_month');
    await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
    });
    const emulated = emulator.gateway.apps.get(BUNDLE);
    if (emulated) delete emulated.notificationUrls.Sandbox;
    try {
      const refund = (await control('POST', `/transactions/${bought.transactionId}/refund`)).json;
      const reversal = (await control('POST', `/transactions/${bought.transactionId}/refund-reversed`)).json;
      return {
        outTradeNo: `IAP${bought.transactionId}`,
        refund: refund.notification.signedPayload as string,
        reversal: reversal.notification.signedPayload as string,
      };
    } finally {
      if (emulated) emulated.notificationUrls.Sandbox = notifyUrl;
    }
  };
  const refundsOf = (outTradeNo: string) =>
    vkPay.store.db
      .selectFrom('payment_refunds')
      .select(['status', 'refund_fee'])
      .where('merchant_id', '=', MERCHANT)
      .where('out_trade_no', '=', outTradeNo)
      .execute();

  it('a refund reversed after the refund pays the order again, fires refund.reversed once, and frees nothing twice', async () => {
    const { outTradeNo, refund, reversal } = await refundAndReversal();
    expect(await postNotification(refund)).toBe(200);
    expect(await orderRow(outTradeNo)).toMatchObject({ status: 'REFUNDED', refundedFen: 2500 });
    expect(await postNotification(reversal)).toBe(200);
    expect(await postNotification(reversal)).toBe(200);
    expect(await postNotification(refund)).toBe(200);
    expect(await orderRow(outTradeNo)).toMatchObject({ status: 'SUCCESS', refundedFen: 0 });
    expect(await refundsOf(outTradeNo)).toEqual([{ status: 'REVERSED', refund_fee: 2500 }]);
    expect((await eventsOf(outTradeNo)).sort()).toEqual([
      'payment.succeeded',
      'refund.reversed',
      'refund.succeeded',
    ]);
    expect(handled.filter((no) => no === outTradeNo)).toHaveLength(1);
    // The reversed refund no longer holds the amount: the order reads as paid in full.
    const queried = await vkPay.getOrder(MERCHANT, outTradeNo);
    expect(queried.status).toBe('SUCCESS');
  });

  it('a refund reversal arriving before its refund leaves the order paid and refunds nothing', async () => {
    const { outTradeNo, refund, reversal } = await refundAndReversal();
    expect(await postNotification(reversal)).toBe(200);
    expect(await postNotification(refund)).toBe(200);
    expect(await postNotification(refund)).toBe(200);
    expect(await postNotification(reversal)).toBe(200);
    expect(await orderRow(outTradeNo)).toMatchObject({ status: 'SUCCESS', refundedFen: 0 });
    expect(await refundsOf(outTradeNo)).toEqual([]);
    expect(await eventsOf(outTradeNo)).toEqual(['payment.succeeded']);
  });

  it('a refund and its reversal racing, each delivered twice at once, end paid with the books even', async () => {
    const { outTradeNo, refund, reversal } = await refundAndReversal();
    await Promise.all([refund, reversal, refund, reversal].map((payload) => postNotification(payload)));
    // Copies that lost a race are asked for again, as Apple retries them.
    expect(await postNotification(refund)).toBe(200);
    expect(await postNotification(reversal)).toBe(200);
    expect(await orderRow(outTradeNo)).toMatchObject({ status: 'SUCCESS', refundedFen: 0 });
    const refunds = await refundsOf(outTradeNo);
    expect(refunds.every((row) => row.status === 'REVERSED')).toBe(true);
    const events = (await eventsOf(outTradeNo)).sort();
    expect(events).toEqual(
      refunds.length === 0
        ? ['payment.succeeded']
        : ['payment.succeeded', 'refund.reversed', 'refund.succeeded'],
    );
  });

  it('the same renewal delivered three times at once pays one order, once', async () => {
    const bought = await buy('vip_month');
    await vkPay.verifyStorePurchase({
      merchantId: MERCHANT,
      provider: 'appleiap',
      transactionId: bought.transactionId,
    });
    const emulated = emulator.gateway.apps.get(BUNDLE);
    if (emulated) delete emulated.notificationUrls.Sandbox;
    let renewal: { transactionId: string; notification: { signedPayload: string } };
    try {
      renewal = (await control('POST', `/transactions/${bought.transactionId}/renew`)).json as typeof renewal;
    } finally {
      if (emulated) emulated.notificationUrls.Sandbox = notifyUrl;
    }
    const statuses = await Promise.all(
      [1, 2, 3].map(() => postNotification(renewal.notification.signedPayload)),
    );
    // A copy that lost the race may be asked for again (500); none is applied twice.
    expect(statuses).toContain(200);
    expect(await postNotification(renewal.notification.signedPayload)).toBe(200);
    const renewalNo = `IAP${renewal.transactionId}`;
    expect((await orderRow(renewalNo)).status).toBe('SUCCESS');
    expect(handled.filter((no) => no === renewalNo)).toHaveLength(1);
    expect(await eventsOf(renewalNo)).toEqual(['payment.succeeded']);
  });

  it('a forged or tampered notification is refused and changes nothing', async () => {
    const bought = await buy('coins_60');
    const other = await AppleTestCa.create();
    const payload = {
      notificationType: 'REFUND',
      notificationUUID: randomUUID(),
      version: '2.0',
      signedDate: Date.now(),
      data: { bundleId: BUNDLE, environment: 'Sandbox', signedTransactionInfo: bought.signedTransactionInfo },
    };
    expect(await postNotification(signAppleJws(payload, other.signingChain))).toBe(401);
    const genuine = signAppleJws(payload, emulator.gateway.ca.signingChain).split('.');
    const tampered = Buffer.from(JSON.stringify({ ...payload, notificationType: 'DID_RENEW' })).toString(
      'base64url',
    );
    expect(await postNotification(`${genuine[0]}.${tampered}.${genuine[2]}`)).toBe(401);
    const wrongBundle = signAppleJws(
      { ...payload, data: { ...payload.data, bundleId: 'com.other' } },
      emulator.gateway.ca.signingChain,
    );
    expect(await postNotification(wrongBundle)).toBe(401);
    const wrongEnvironment = signAppleJws(
      { ...payload, data: { ...payload.data, environment: 'Production' } },
      emulator.gateway.ca.signingChain,
    );
    expect(await postNotification(wrongEnvironment)).toBe(401);
    expect(await codeOf(orderRow(`IAP${bought.transactionId}`))).toBe(40005);
  });

  it('a TEST notification asked for through the Server API is answered 200', async () => {
    const sent = emulator.gateway.notifier.records.length;
    const provider = vkPay.context.providers.get('appleiap') as AppleIapProvider;
    expect(await provider.requestTestNotification(MERCHANT)).toBeTruthy();
    const status = await eventually(
      async () => emulator.gateway.notifier.records[sent]?.attempts[0]?.status ?? null,
      (value) => value !== null,
    );
    expect(status).toBe(200);
  });
});
