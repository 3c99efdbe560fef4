/**
 * WeChat Pay partner mode end to end: two sub-merchants of one service provider are two merchants
 * of ours. Each one's payments, refunds, notifications, API answers and webhooks stay its own:
 * a genuine notification for A's order delivered to B's notify URL is refused, B cannot read or
 * refund A's order through the API, duplicates run the handler once, forgeries change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewaySignatureHeaders } from '../../src/sandbox/wxpay/gateway-signature.ts';
import { addUser, ConsoleClient, PASSWORD } from '../console/client.ts';
import { backends } from '../support/backends.ts';
import { noonOf, pastDay } from '../support/days.ts';
import { signed } from '../support/signed-client.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { eventually, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const tradeNo = tradeNumbers('SP');
const SHOP_A = 'shopA';
const SHOP_B = 'shopB';

describe.each(backends)('WeChat Pay partner mode end to end on $name', (backend) => {
  let h: WxpayHarness;
  let hooksA: WebhookReceiver;
  let hooksB: WebhookReceiver;
  const handled: Array<{ merchantId: string; outTradeNo: string }> = [];

  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      partnerMerchants: [SHOP_A, SHOP_B],
      vkPay: { webhooks: { timeFactor: 0.0001, pollIntervalMs: 50 } },
    });
    h.vkPay.onPaid('goods', ({ order }) => {
      handled.push({ merchantId: order.merchantId, outTradeNo: order.outTradeNo });
    });
    h.vkPay.startWebhookDelivery();
    hooksA = await startWebhookReceiver();
    hooksB = await startWebhookReceiver();
    hooksA.secrets = [(await h.vkPay.createWebhookEndpoint(SHOP_A, { url: `${hooksA.url}/a` })).secret];
    hooksB.secrets = [(await h.vkPay.createWebhookEndpoint(SHOP_B, { url: `${hooksB.url}/b` })).secret];
  });
  afterAll(async () => {
    await h?.close();
    await hooksA?.close();
    await hooksB?.close();
  });

  const sub = (merchantId: string) => h.partner!.subMchIds[merchantId]!;
  /** The merchant API as one sub-merchant's backend calls it. */
  const api = async (merchantId: string, method: 'GET' | 'POST', url: string, body?: unknown) => {
    const response = await h.app.inject(signed(h.partner!.apps[merchantId]!, method, url, body));
    return { status: response.statusCode, json: response.json() };
  };
  const create = (merchantId: string, no: string, totalFen = 1500) =>
    api(merchantId, 'POST', '/api/payments', {
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: totalFen,
      subject: '服务商商品',
      type: 'goods',
    });
  const status = async (merchantId: string, no: string) => (await h.vkPay.getOrder(merchantId, no)).status;
  const paid = (merchantId: string, no: string) =>
    eventually(
      () => status(merchantId, no),
      (s) => s === 'SUCCESS',
    );
  const notificationsOf = async (no: string) =>
    (await h.control('GET', `/notifications?out_trade_no=${no}`)).json as Array<{
      body: string;
      eventType: string;
      state: string;
      attempts: unknown[];
    }>;
  /** The emulator's notification body, signed again by the gateway's own key: genuine, as WeChat sent it. */
  const genuinelySigned = (body: string) => {
    const gateway = h.emulator.gateway;
    const key = gateway.merchants.get(h.partner!.spMchId)!.publicKey!;
    return gatewaySignatureHeaders(key, body, gateway.runtime);
  };
  const deliver = (merchantId: string, body: string, headers: Record<string, string>) =>
    h.app.inject({
      method: 'POST',
      url: `/notify/wxpay/${merchantId}`,
      headers: { 'content-type': 'application/json', ...headers },
      payload: body,
    });

  it("pays both sub-merchants' orders through the service provider, each bound to its own sub_mchid", async () => {
    const [noA, noB] = [tradeNo(), tradeNo()];
    expect((await create(SHOP_A, noA)).json).toMatchObject({
      code: 0,
      data: { payment: { scene: 'native' } },
    });
    expect((await create(SHOP_B, noB)).json).toMatchObject({ code: 0 });
    expect((await h.control('POST', `/trades/${sub(SHOP_A)}/${noA}/pay`)).status).toBe(200);
    expect((await h.control('POST', `/trades/${sub(SHOP_B)}/${noB}/pay`)).status).toBe(200);
    expect(await paid(SHOP_A, noA)).toBe('SUCCESS');
    expect(await paid(SHOP_B, noB)).toBe('SUCCESS');
    const rows = await h.vkPay.store.db
      .selectFrom('payment_orders')
      .select(['merchant_id', 'out_trade_no', 'mch_id', 'app_id'])
      .where('out_trade_no', 'in', [noA, noB])
      .orderBy('merchant_id')
      .execute();
    expect(rows).toEqual([
      { merchant_id: SHOP_A, out_trade_no: noA, mch_id: sub(SHOP_A), app_id: h.partner!.spAppId },
      { merchant_id: SHOP_B, out_trade_no: noB, mch_id: sub(SHOP_B), app_id: h.partner!.spAppId },
    ]);
    expect(handled.filter((entry) => entry.outTradeNo === noA)).toEqual([
      { merchantId: SHOP_A, outTradeNo: noA },
    ]);
    // Each merchant's webhook endpoint hears of its own payment only.
    const heardA = await eventually(
      async () =>
        hooksA
          .verifiedOf()
          .map((item) => item.json?.data?.order?.out_trade_no ?? item.json?.data?.out_trade_no),
      (numbers) => numbers.includes(noA),
    );
    expect(heardA).toContain(noA);
    expect(heardA).not.toContain(noB);
    const heardB = await eventually(
      async () =>
        hooksB
          .verifiedOf()
          .map((item) => item.json?.data?.order?.out_trade_no ?? item.json?.data?.out_trade_no),
      (numbers) => numbers.includes(noB),
    );
    expect(heardB).not.toContain(noA);
  });

  it("B can neither read nor refund nor close A's order through our API", async () => {
    const noA = tradeNo();
    await create(SHOP_A, noA);
    await h.control('POST', `/trades/${sub(SHOP_A)}/${noA}/pay`);
    await paid(SHOP_A, noA);
    const read = await api(SHOP_B, 'GET', `/api/payments/${noA}`);
    expect(read.json.code).toBe(40005);
    const refund = await api(SHOP_B, 'POST', '/api/refunds', {
      out_trade_no: noA,
      out_refund_no: `RB${noA}`,
      refund_fee: 100,
    });
    expect(refund.json.code).toBe(40005);
    expect((await api(SHOP_B, 'POST', `/api/payments/${noA}/close`)).json.code).toBe(40005);
    // Nor by naming A: B's app may act for B only.
    expect((await api(SHOP_B, 'GET', `/api/payments/${noA}?merchant=${SHOP_A}`)).json.code).toBe(40009);
    expect(await status(SHOP_A, noA)).toBe('SUCCESS');
    expect((await api(SHOP_A, 'GET', `/api/payments/${noA}`)).json).toMatchObject({
      code: 0,
      data: { orderPaid: true },
    });
  });

  it("A's refund goes through the service provider for A and settles by A's refund notification", async () => {
    const noA = tradeNo();
    await create(SHOP_A, noA, 2000);
    await h.control('POST', `/trades/${sub(SHOP_A)}/${noA}/pay`);
    await paid(SHOP_A, noA);
    const refund = await api(SHOP_A, 'POST', '/api/refunds', {
      out_trade_no: noA,
      out_refund_no: `RA${noA}`,
      refund_fee: 500,
    });
    expect(refund.json).toMatchObject({ code: 0, data: { refund: { status: 'PROCESSING' } } });
    const atGateway = await h.control('GET', `/refunds/${sub(SHOP_A)}/RA${noA}`);
    expect(atGateway.status).toBe(200);
    // Another sub-merchant holds no such refund at the gateway either.
    expect((await h.control('GET', `/refunds/${sub(SHOP_B)}/RA${noA}`)).status).toBe(404);
    await h.control('POST', `/refunds/${sub(SHOP_A)}/RA${noA}/succeed`);
    const settled = await eventually(
      async () =>
        (
          await h.vkPay.store.db
            .selectFrom('payment_refunds')
            .select(['status', 'merchant_id'])
            .where('out_refund_no', '=', `RA${noA}`)
            .executeTakeFirst()
        )?.status,
      (s) => s === 'SUCCESS',
    );
    expect(settled).toBe('SUCCESS');
    const readByB = await api(SHOP_B, 'GET', `/api/refunds/RA${noA}`);
    expect(readByB.json.code).toBe(40005);
  });

  it("a genuine notification for A's order delivered to B's notify URL is refused and settles nothing", async () => {
    const noA = tradeNo();
    await create(SHOP_A, noA);
    // B has an order of the same number in our store: the gateway refuses to create it (the number
    // is the service provider's, and taken by A), but our row exists, unpaid.
    const sameNumber = await create(SHOP_B, noA);
    expect(sameNumber.json.code).not.toBe(0);
    const bRow = await h.vkPay.store.db
      .selectFrom('payment_orders')
      .select('status')
      .where('merchant_id', '=', SHOP_B)
      .where('out_trade_no', '=', noA)
      .executeTakeFirst();
    await h.control('POST', `/trades/${sub(SHOP_A)}/${noA}/pay`);
    await paid(SHOP_A, noA);
    const [record] = (await notificationsOf(noA)).filter(
      (entry) => entry.eventType === 'TRANSACTION.SUCCESS',
    );
    const answer = await deliver(SHOP_B, record!.body, genuinelySigned(record!.body));
    expect(answer.statusCode).toBeGreaterThanOrEqual(400);
    expect(answer.json()).toMatchObject({ code: 'FAIL' });
    expect(bRow).toEqual({ status: 'NOTPAY' });
    expect(await status(SHOP_B, noA)).toBe('NOTPAY');
    expect(handled.filter((entry) => entry.merchantId === SHOP_B && entry.outTradeNo === noA)).toEqual([]);
    // The same notification on A's own URL is a duplicate there: acknowledged, handler not run again.
    const again = await deliver(SHOP_A, record!.body, genuinelySigned(record!.body));
    expect(again.statusCode).toBeLessThan(300);
    expect(handled.filter((entry) => entry.outTradeNo === noA)).toHaveLength(1);
  });

  it('duplicated notifications run the handler once; forged ones change nothing', async () => {
    const noA = tradeNo();
    await create(SHOP_A, noA);
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'duplicate',
      mchid: sub(SHOP_A),
      outTradeNo: noA,
      times: 2,
    });
    await h.control('POST', `/trades/${sub(SHOP_A)}/${noA}/pay`);
    await paid(SHOP_A, noA);
    const deliveries = await eventually(
      async () => (await notificationsOf(noA)).reduce((sum, record) => sum + record.attempts.length, 0),
      (count) => count >= 2,
    );
    expect(deliveries).toBeGreaterThanOrEqual(2);
    expect(handled.filter((entry) => entry.outTradeNo === noA)).toHaveLength(1);

    // A notification for an unpaid order of B, its body altered after signing: refused, still unpaid.
    const noB = tradeNo();
    await create(SHOP_B, noB);
    const [record] = await notificationsOf(noA);
    const headers = genuinelySigned(record!.body);
    const tampered = record!.body.replace(/"id":"[^"]+"/, '"id":"forged-event-id"');
    expect((await deliver(SHOP_B, tampered, headers)).statusCode).toBe(401);
    // And one signed by a key that is not the gateway's.
    const { generateKeyPairSync } = await import('node:crypto');
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forgedHeaders = gatewaySignatureHeaders(
      {
        ...h.emulator.gateway.merchants.get(h.partner!.spMchId)!.publicKey!,
        privateKey: stranger.privateKey,
      },
      record!.body,
      h.emulator.gateway.runtime,
    );
    expect((await deliver(SHOP_A, record!.body, forgedHeaders)).statusCode).toBe(401);
    expect(await status(SHOP_B, noB)).toBe('NOTPAY');
  });

  it("an operator of A sees A's account with its service provider, and A's orders only", async () => {
    const [noA, noB] = [tradeNo(), tradeNo()];
    await create(SHOP_A, noA);
    await create(SHOP_B, noB);
    const name = `ana${Date.now().toString(36)}`;
    await addUser(h.vkPay, name, 'viewer', [SHOP_A]);
    const console = new ConsoleClient(h.app);
    expect((await console.signIn(name, PASSWORD)).statusCode).toBe(200);
    const merchants = (await console.get('/console/merchants')).json().data.merchants;
    expect(merchants.map((merchant: { merchantId: string }) => merchant.merchantId)).toEqual([SHOP_A]);
    expect(merchants[0].accounts).toEqual([
      expect.objectContaining({
        provider: 'wxpay',
        mchId: sub(SHOP_A),
        appId: h.partner!.spAppId,
        serviceProvider: { id: 'sp', mchId: h.partner!.spMchId, appId: h.partner!.spAppId },
      }),
    ]);
    const page = await console.get('/console/merchants', { html: true });
    expect(page.body).toContain('data-testid="service-provider"');
    const rows = (await console.get('/console/orders?limit=100')).json().data.rows as Array<{
      merchantId: string;
      outTradeNo: string;
    }>;
    expect(rows.map((row) => row.outTradeNo)).toContain(noA);
    expect(rows.map((row) => row.outTradeNo)).not.toContain(noB);
    expect(rows.every((row) => row.merchantId === SHOP_A)).toBe(true);
    expect((await console.get(`/console/orders/${SHOP_B}/${noB}`)).statusCode).toBe(404);
  });

  it("reconciles each sub-merchant against its own bill: the other's trades are not in it", async () => {
    const date = pastDay();
    const [a1, a2, b1] = [tradeNo(), tradeNo(), tradeNo()];
    await h.control('POST', '/clock', { at: noonOf(date) });
    try {
      for (const [merchantId, no, fen] of [
        [SHOP_A, a1, 1000],
        [SHOP_A, a2, 700],
        [SHOP_B, b1, 400],
      ] as const) {
        await create(merchantId, no, fen);
        await h.control('POST', `/trades/${sub(merchantId)}/${no}/pay`);
        await paid(merchantId, no);
      }
      await api(SHOP_A, 'POST', '/api/refunds', {
        out_trade_no: a1,
        out_refund_no: `${a1}R`,
        refund_fee: 250,
      });
      await h.control('POST', `/refunds/${sub(SHOP_A)}/${a1}R/succeed`);
      await eventually(
        async () => (await h.vkPay.listRefunds(SHOP_A, a1))[0]?.status,
        (s) => s === 'SUCCESS',
      );
    } finally {
      await h.control('POST', '/clock', { offsetMs: 0 });
    }
    const reportA = await h.vkPay.reconcile('wxpay', SHOP_A, date);
    expect(reportA).toMatchObject({ payments: 2, refunds: 1, matched: 3, mismatches: 0 });
    const reportB = await h.vkPay.reconcile('wxpay', SHOP_B, date);
    expect(reportB).toMatchObject({ payments: 1, refunds: 0, matched: 1, mismatches: 0 });
    for (const merchantId of [SHOP_A, SHOP_B])
      expect(
        (await h.vkPay.listReviews(merchantId)).filter((review) => review.kind === 'bill_mismatch'),
      ).toEqual([]);
  });
});
