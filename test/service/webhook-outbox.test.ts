/**
 * The outbox and the delivery worker against the real store: an event exists exactly when its
 * change committed; a handler in the process and a webhook endpoint work together; one endpoint
 * that hangs never holds back another; sealed fields reach the receiver open.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneWebhookHistory } from '../../src/service/webhook-ops.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { eventually } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT, orderRequest, paidResult } from '../support/orders.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

describe.each(backends)('the webhook outbox on $name', (backend) => {
  let vkPay: VkPay;
  let receiver: WebhookReceiver;
  let failHandler = false;

  beforeAll(async () => {
    vkPay = await backend.open({
      webhooks: { timeFactor: 0.001, pollIntervalMs: 50 },
      sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] },
    });
    vkPay.onPaid('recharge', () => {
      if (failHandler) throw new Error('wallet is down');
    });
    vkPay.startWebhookDelivery();
    receiver = await startWebhookReceiver();
    const made = await vkPay.createWebhookEndpoint(MERCHANT, { url: `${receiver.url}/all` });
    receiver.secrets = [made.secret];
  });
  afterAll(async () => {
    await vkPay?.close();
    await receiver?.close();
  });

  const eventsOf = (outTradeNo: string) =>
    vkPay.store.db
      .selectFrom('webhook_events')
      .select(['id', 'type'])
      .where('out_trade_no', '=', outTradeNo)
      .execute();

  it('a payment rolled back by its handler leaves no event; applied, it leaves exactly one', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    failHandler = true;
    const failed = await vkPay.applyPaymentResult(paidResult(order));
    expect(failed.outcome).toBe('handler_failed');
    expect(await eventsOf(order.outTradeNo)).toEqual([]);
    failHandler = false;
    expect((await vkPay.applyPaymentResult(paidResult(order))).outcome).toBe('applied');
    expect((await vkPay.applyPaymentResult(paidResult(order))).outcome).toBe('already_applied');
    expect((await eventsOf(order.outTradeNo)).map((event) => event.type)).toEqual(['payment.succeeded']);
  });

  it('with a handler in the process, the order completes in the transaction and the webhook still goes out', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    const applied = await vkPay.applyPaymentResult(paidResult(order));
    expect(applied.order.userOrderSuccess).toBe(true);
    const delivered = await eventually(
      async () =>
        receiver
          .verifiedOf('payment.succeeded')
          .filter((r) => r.json.data.order.out_trade_no === order.outTradeNo),
      (list) => list.length > 0,
    );
    expect(delivered[0]!.json.data.order.user_order_success).toBe(true);
    const delivery = await vkPay.store.db
      .selectFrom('webhook_deliveries')
      .select('confirms_order')
      .where('event_id', '=', delivered[0]!.id)
      .executeTakeFirstOrThrow();
    expect(delivery.confirms_order).toBe(false);
  });

  it('without a handler, user_order_success waits for the acknowledgement, and await_notify is woken by it', async () => {
    receiver.delayMs = 600;
    try {
      const { order } = await vkPay.createOrder(
        orderRequest({
          type: 'goods',
          custom: { user_info: { name: '张三', phone: '13800000000' }, sku: 'A1' },
        }),
      );
      const applied = await vkPay.applyPaymentResult(paidResult(order));
      expect(applied.order.userOrderSuccess).toBe(false);
      expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).userOrderSuccess).toBe(false);
      const started = Date.now();
      const answer = await vkPay.queryPayment(MERCHANT, order.outTradeNo, {
        awaitNotify: true,
        awaitMaxMs: 10_000,
      });
      const waited = Date.now() - started;
      expect(answer).toMatchObject({ orderPaid: true, userOrderSuccess: true });
      expect(waited).toBeLessThan(3_000);
      // Stored sealed, delivered open.
      const row = await vkPay.store.db
        .selectFrom('webhook_events')
        .select('payload')
        .where('out_trade_no', '=', order.outTradeNo)
        .executeTakeFirstOrThrow();
      expect(JSON.stringify(row.payload)).not.toContain('13800000000');
      const got = receiver
        .verifiedOf('payment.succeeded')
        .find((r) => r.json.data.order.out_trade_no === order.outTradeNo)!;
      // The body says the order waits for this acknowledgement.
      expect(got.json.data.order.user_order_success).toBe(false);
      expect(got.json.data.order.custom).toEqual({
        user_info: { name: '张三', phone: '13800000000' },
        sku: 'A1',
      });
    } finally {
      receiver.delayMs = 0;
    }
  });

  it('a closed order and a resolved review each send their event', async () => {
    const { order } = await vkPay.createOrder(orderRequest({ type: 'vip' }));
    await vkPay.applyPaymentResult(paidResult(order, { status: 'CLOSED', transactionId: null }));
    const closed = await eventually(
      async () =>
        receiver
          .verifiedOf('payment.closed')
          .filter((r) => r.json.data.order.out_trade_no === order.outTradeNo),
      (list) => list.length > 0,
    );
    expect(closed[0]!.json.data.order.status).toBe('CLOSED');
  });

  it('one endpoint that hangs does not hold back another', async () => {
    const hanging = await startWebhookReceiver();
    hanging.delayMs = 3_000;
    const made = await vkPay.createWebhookEndpoint(MERCHANT, {
      url: `${hanging.url}/slow`,
      order_types: ['custom'],
      timeout_ms: 1000,
    });
    try {
      // A backlog of 120 deliveries for the hanging endpoint.
      for (let i = 0; i < 120; i += 1) {
        const { order } = await vkPay.createOrder(orderRequest({ type: 'custom' }));
        await vkPay.applyPaymentResult(paidResult(order));
      }
      await eventually(
        async () => hanging.received.length,
        (count) => count >= 10,
      );
      const { order } = await vkPay.createOrder(orderRequest({ type: 'goods' }));
      const started = Date.now();
      await vkPay.applyPaymentResult(paidResult(order));
      const arrived = await eventually(
        async () => receiver.received.find((r) => r.json?.data?.order?.out_trade_no === order.outTradeNo),
        (found) => found !== undefined,
        5_000,
      );
      expect(arrived).toBeDefined();
      expect(arrived!.at - started).toBeLessThan(1_500);
      // Never more in flight to the hanging endpoint than its bound.
      const inFlight = await sql<{ count: number }>`
        select count(*)::int as count from webhook_deliveries where endpoint_id = ${made.endpoint.id} and status = 'DELIVERING'`.execute(
        vkPay.store.db,
      );
      expect(inFlight.rows[0]!.count).toBeLessThanOrEqual(
        vkPay.context.webhooks.settings.concurrencyPerEndpoint,
      );
    } finally {
      await vkPay.disableWebhookEndpoint(MERCHANT, made.endpoint.id);
      await hanging.close();
    }
  });

  it('deletes events past the retention with nothing left to send, and keeps the rest', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    await vkPay.applyPaymentResult(paidResult(order));
    const [event] = await eventsOf(order.outTradeNo);
    await eventually(
      () => vkPay.getWebhookEvent(MERCHANT, event!.id),
      (found) => found.deliveries.every((d) => d.status === 'DELIVERED'),
    );
    const pending = await vkPay.createOrder(orderRequest({ type: 'goods' }));
    await vkPay.applyPaymentResult(paidResult(pending.order));
    const [waiting] = await eventsOf(pending.order.outTradeNo);
    // Both a hundred days old; the second one's delivery is still due.
    await vkPay.store.db
      .updateTable('webhook_events')
      .set({ create_date: new Date(Date.now() - 100 * 86_400_000) })
      .where('id', 'in', [event!.id, waiting!.id])
      .execute();
    await vkPay.store.db
      .updateTable('webhook_deliveries')
      .set({ status: 'PENDING', next_attempt_at: new Date(Date.now() + 3600_000) })
      .where('event_id', '=', waiting!.id)
      .execute();
    const pruned = await pruneWebhookHistory(vkPay.context);
    expect(pruned).toBeGreaterThanOrEqual(1);
    expect(await eventsOf(order.outTradeNo)).toEqual([]);
    const attempts = await vkPay.store.db
      .selectFrom('webhook_attempts')
      .select('id')
      .where('event_id', '=', event!.id)
      .execute();
    expect(attempts).toEqual([]);
    expect((await eventsOf(pending.order.outTradeNo)).map((e) => e.id)).toEqual([waiting!.id]);
  });
});
