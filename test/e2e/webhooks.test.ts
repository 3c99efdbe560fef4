/**
 * Merchant webhooks end to end: a payment through the WeChat Pay emulator's callback reaches the
 * merchant's endpoint for the order's type, signed so the independent Standard Webhooks library
 * verifies it, at least once, retried on the schedule, and completes the order's business.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../support/backends.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const tradeNo = tradeNumbers('WH');

describe.each(backends)('merchant webhooks on $name', (backend) => {
  let h: WxpayHarness;
  let recharge: WebhookReceiver;
  let fallback: WebhookReceiver;
  let rechargeEndpoint: { id: string; secret: string };

  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      vkPay: { webhooks: { timeFactor: 0.0001, pollIntervalMs: 50 } },
    });
    h.vkPay.startWebhookDelivery();
    recharge = await startWebhookReceiver();
    fallback = await startWebhookReceiver();
    const made = await h.vkPay.createWebhookEndpoint(MERCHANT, {
      url: `${recharge.url}/vk-pay/recharge`,
      order_types: ['recharge'],
      timeout_ms: 2000,
    });
    rechargeEndpoint = { id: made.endpoint.id, secret: made.secret };
    recharge.secrets = [made.secret];
    const other = await h.vkPay.createWebhookEndpoint(MERCHANT, { url: `${fallback.url}/vk-pay` });
    fallback.secrets = [other.secret];
  });
  afterAll(async () => {
    await h?.close();
    await recharge?.close();
    await fallback?.close();
  });

  async function payThroughCallback(type: string, totalFen = 100): Promise<string> {
    const no = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: totalFen,
      subject: 'webhook test',
      type,
      custom: { coins: 10 },
    });
    const paid = await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    expect(paid.status).toBe(200);
    return no;
  }

  it('the endpoint for the order type receives one verified payment.succeeded, and the order completes', async () => {
    const no = await payThroughCallback('recharge');
    const answer = await h.vkPay.queryPayment(MERCHANT, no, { awaitNotify: true, awaitMaxMs: 10_000 });
    expect(answer).toMatchObject({ orderPaid: true, userOrderSuccess: true });

    const mine = recharge
      .verifiedOf('payment.succeeded')
      .filter((r) => r.json.data.order.out_trade_no === no);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.path).toBe('/vk-pay/recharge');
    expect(mine[0]!.json).toMatchObject({
      type: 'payment.succeeded',
      version: 1,
      merchant_id: MERCHANT,
      data: {
        order: {
          out_trade_no: no,
          status: 'SUCCESS',
          type: 'recharge',
          total_fee: 100,
          custom: { coins: 10 },
        },
      },
    });
    expect(mine[0]!.id).toBe(mine[0]!.json.id);
    // The default endpoint does not get what the recharge endpoint takes.
    expect(fallback.received.some((r) => r.json?.data?.order?.out_trade_no === no)).toBe(false);

    const event = await h.vkPay.getWebhookEvent(MERCHANT, mine[0]!.id);
    expect(event.deliveries).toHaveLength(1);
    expect(event.deliveries[0]).toMatchObject({
      endpoint_id: rechargeEndpoint.id,
      status: 'DELIVERED',
      attempts: 1,
    });
    expect(event.deliveries[0]!.attempt_log[0]).toMatchObject({
      ok: true,
      status_code: 200,
      response_excerpt: 'ok',
    });
  });

  it('an order type without its own endpoint goes to the default endpoint', async () => {
    const no = await payThroughCallback('goods');
    const delivered = await eventually(
      async () =>
        fallback.verifiedOf('payment.succeeded').filter((r) => r.json.data.order.out_trade_no === no),
      (list) => list.length > 0,
    );
    expect(delivered).toHaveLength(1);
    expect(recharge.received.some((r) => r.json?.data?.order?.out_trade_no === no)).toBe(false);
  });

  it('an endpoint answering 500 five times then 200 gets the event delivered, every attempt recorded', async () => {
    recharge.script.push(500, 500, 500, 500, 500);
    const no = await payThroughCallback('recharge');
    const before = await h.vkPay.queryPayment(MERCHANT, no);
    expect(before.orderPaid).toBe(true);

    const order = await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (current) => current.userOrderSuccess,
      15_000,
    );
    expect(order.userOrderSuccess).toBe(true);
    const tries = recharge.received.filter((r) => r.json?.data?.order?.out_trade_no === no);
    expect(tries.map((r) => r.answered)).toEqual([500, 500, 500, 500, 500, 200]);
    expect(new Set(tries.map((r) => r.id)).size).toBe(1);
    const event = await h.vkPay.getWebhookEvent(MERCHANT, tries[0]!.id);
    expect(event.deliveries[0]).toMatchObject({ status: 'DELIVERED', attempts: 6 });
    expect(event.deliveries[0]!.attempt_log.map((a) => a.status_code)).toEqual([
      500, 500, 500, 500, 500, 200,
    ]);
    expect(event.deliveries[0]!.attempt_log[0]!.response_excerpt).toBe('failed with 500');
  });

  it('a refund and a review reach the endpoint of the order type', async () => {
    const no = await payThroughCallback('recharge', 300);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.userOrderSuccess,
    );
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 300,
    });
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/abnormal`);
    const abnormal = await eventually(
      async () =>
        recharge.verifiedOf('refund.abnormal').filter((r) => r.json.data.refund.out_refund_no === `${no}R1`),
      (list) => list.length > 0,
    );
    expect(abnormal[0]!.json.data).toMatchObject({
      refund: { status: 'ABNORMAL' },
      order: { out_trade_no: no },
    });
    const opened = await eventually(
      async () => recharge.verifiedOf('review.opened').filter((r) => r.json.data.review.out_trade_no === no),
      (list) => list.length > 0,
    );
    expect(opened[0]!.json.data.review).toMatchObject({ kind: 'refund_abnormal', status: 'OPEN' });
    await h.vkPay.resolveReview(MERCHANT, opened[0]!.json.data.review.id, 'paid out by hand');
    const resolved = await eventually(
      async () =>
        recharge.verifiedOf('review.resolved').filter((r) => r.json.data.review.out_trade_no === no),
      (list) => list.length > 0,
    );
    expect(resolved[0]!.json.data.review).toMatchObject({ status: 'RESOLVED', note: 'paid out by hand' });
  });

  it('during a rotation both secrets verify; after the grace only the new one', async () => {
    const rotated = await h.vkPay.rotateWebhookSecret(MERCHANT, rechargeEndpoint.id, 3600);
    expect(rotated.secret).not.toBe(rechargeEndpoint.secret);
    recharge.secrets = [rotated.secret, rechargeEndpoint.secret];
    const no = await payThroughCallback('recharge');
    const during = await eventually(
      async () => recharge.received.filter((r) => r.json?.data?.order?.out_trade_no === no),
      (list) => list.length > 0,
    );
    expect(during[0]!.verified).toEqual([true, true]);

    const again = await h.vkPay.rotateWebhookSecret(MERCHANT, rechargeEndpoint.id, 0);
    recharge.secrets = [again.secret, rotated.secret];
    const after = await h.vkPay.pingWebhookEndpoint(MERCHANT, rechargeEndpoint.id);
    expect(after.delivery.attempt_log[0]).toMatchObject({ ok: true, status_code: 200 });
    const ping = recharge.received.find((r) => r.id === after.event_id)!;
    expect(ping.verified).toEqual([true, false]);
    rechargeEndpoint.secret = again.secret;
    recharge.secrets = [again.secret];
  });

  it('an endpoint down past the whole schedule opens one review; a replay delivers once it is back', async () => {
    const down = await startWebhookReceiver();
    const made = await h.vkPay.createWebhookEndpoint(MERCHANT, {
      url: `${down.url}/vip`,
      order_types: ['vip'],
      timeout_ms: 1000,
    });
    down.secrets = [made.secret];
    await down.close();
    const no = await payThroughCallback('vip');
    const failed = await eventually(
      () => h.vkPay.listWebhookEvents(MERCHANT, { outTradeNo: no, type: 'payment.succeeded' }),
      (events) => events[0]?.deliveries[0]?.status === 'FAILED',
      30_000,
    );
    expect(failed[0]!.deliveries[0]).toMatchObject({
      endpoint_id: made.endpoint.id,
      status: 'FAILED',
      attempts: 16,
    });
    const order = await h.vkPay.getOrder(MERCHANT, no);
    expect(order).toMatchObject({ status: 'SUCCESS', userOrderSuccess: false });
    const reviews = (await h.vkPay.listReviews(MERCHANT)).filter(
      (review) => review.kind === 'webhook_exhausted' && review.outTradeNo === no,
    );
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.details).toMatchObject({
      eventId: failed[0]!.id,
      endpointId: made.endpoint.id,
      attempts: 16,
    });
    // It counts toward the error-rate alert.
    const logged = await h.vkPay.store.db
      .selectFrom('payment_logs')
      .select(['status', 'error'])
      .where('type', '=', 'webhook')
      .where('out_trade_no', '=', no)
      .execute();
    expect(logged).toEqual([{ status: 'ERROR', error: expect.objectContaining({ code: 50000 }) }]);

    // Back on a new address: the merchant points the endpoint at it and replays what failed.
    const back = await startWebhookReceiver([made.secret]);
    try {
      await h.vkPay.updateWebhookEndpoint(MERCHANT, made.endpoint.id, { url: `${back.url}/vip` });
      const replayed = await h.vkPay.replayFailedWebhooks(MERCHANT, {
        from: new Date(Date.now() - 3600_000),
        to: new Date(),
        endpointId: made.endpoint.id,
      });
      expect(replayed.replayed).toBeGreaterThanOrEqual(1);
      const done = await eventually(
        () => h.vkPay.getOrder(MERCHANT, no),
        (current) => current.userOrderSuccess,
        10_000,
      );
      expect(done.userOrderSuccess).toBe(true);
      expect(
        back.verifiedOf('payment.succeeded').filter((r) => r.json.data.order.out_trade_no === no),
      ).toHaveLength(1);
    } finally {
      await h.vkPay.disableWebhookEndpoint(MERCHANT, made.endpoint.id);
      await back.close();
    }
  });

  it('await_notify on an unpaid order asks the gateway with backoff, not every 500 ms', async () => {
    const no = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 100,
      subject: 'never paid',
      type: 'recharge',
    });
    const started = Date.now();
    const answer = await h.vkPay.queryPayment(MERCHANT, no, { awaitNotify: true, awaitMaxMs: 5_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
    expect(answer.orderPaid).toBe(false);
    const queries = await h.vkPay.store.db
      .selectFrom('payment_logs')
      .select('create_date')
      .where('out_trade_no', '=', no)
      .where('type', '=', 'query')
      .execute();
    // At 0 s, 1 s and 3 s (then 7 s, past the wait): three, where polling every 500 ms made eleven.
    expect(queries.length).toBe(3);
  });

  it('await_notify returns as soon as the callback is applied', async () => {
    const no = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 100,
      subject: 'paid while waiting',
      type: 'recharge',
    });
    const waiting = h.vkPay.queryPayment(MERCHANT, no, { awaitNotify: true, awaitMaxMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const paidAt = Date.now();
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    const answer = await waiting;
    expect(answer).toMatchObject({ orderPaid: true, userOrderSuccess: true });
    expect(Date.now() - paidAt).toBeLessThan(1_500);
  });
});
