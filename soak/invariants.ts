/**
 * The invariants, checked once every phase is over and the service has had time to heal: from the
 * database and from the gateway emulator's own records, never from the service's answers alone.
 */
import { readFileSync } from 'node:fs';
import { runConcurrently } from '../bench/support/load.ts';
import { countBy } from './phases/storm.ts';
import { check, print, type Soak, sleep } from './support/context.ts';
import type { AlipayTrade, GatewayTrade } from './support/gateway.ts';

const PAID = new Set(['SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED']);

/** Alipay's trade in WeChat Pay's words, so one comparison covers both gateways. */
function alipayAsWxpay(trade: AlipayTrade | null): GatewayTrade | null {
  if (!trade) return null;
  const state =
    trade.tradeStatus === 'TRADE_SUCCESS' || trade.tradeStatus === 'TRADE_FINISHED'
      ? trade.refundedFen > 0
        ? 'REFUND'
        : 'SUCCESS'
      : trade.tradeStatus === 'TRADE_CLOSED'
        ? 'CLOSED'
        : 'NOTPAY';
  return {
    transaction: { trade_state: state, amount: { total: trade.totalFen } },
    // The soak refunds through WeChat Pay only: an Alipay trade's refunds are one sum.
    refunds:
      trade.refundedFen > 0
        ? [{ out_refund_no: '(alipay)', status: 'SUCCESS', amount: { refund: trade.refundedFen } }]
        : [],
  };
}

/** Refunds still PROCESSING here are asked about (as a merchant would) until none is left. */
async function settleRefunds(soak: Soak): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const open = await soak.db
      .selectFrom('payment_refunds')
      .select('out_refund_no')
      .where('merchant_id', '=', soak.merchantId)
      .where('status', 'in', ['PROCESSING', 'ABNORMAL'])
      .execute();
    if (open.length === 0 || Date.now() > deadline) return open.length;
    await runConcurrently(open.length, soak.sizes.concurrency, (i) =>
      soak.client.call('GET', `/api/refunds/${open[i]!.out_refund_no}`),
    );
    await sleep(1_000);
  }
}

async function settleWebhooks(soak: Soak): Promise<number> {
  soak.receiver.failShare = 0;
  soak.receiver.slowShare = 0;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const pending = await soak.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '<>', 'DELIVERED')
      .executeTakeFirstOrThrow();
    if (Number(pending.n) === 0 || Date.now() > deadline) return Number(pending.n);
    await sleep(500);
  }
}

export async function checkInvariants(soak: Soak, secrets: Record<string, string>): Promise<void> {
  const phase = 'invariants';
  const started = performance.now();
  const openRefunds = await settleRefunds(soak);
  check(soak, phase, openRefunds === 0, `${openRefunds} refunds still PROCESSING after 60 s of queries`);

  const orders = await soak.db
    .selectFrom('payment_orders')
    .select(['out_trade_no', 'status', 'total_fee', 'refunded_fee'])
    .where('merchant_id', '=', soak.merchantId)
    .execute();
  const refunds = await soak.db
    .selectFrom('payment_refunds')
    .select(['out_trade_no', 'out_refund_no', 'refund_fee', 'status'])
    .where('merchant_id', '=', soak.merchantId)
    .execute();
  const ours = new Map(orders.map((o) => [o.out_trade_no, o]));
  const refundsOf = new Map<string, typeof refunds>();
  for (const r of refunds) refundsOf.set(r.out_trade_no, [...(refundsOf.get(r.out_trade_no) ?? []), r]);

  // Every order the soak made, against the gateway's record of it.
  const nos = [...soak.orders.keys()];
  const trades = new Map<string, GatewayTrade | null>();
  await runConcurrently(nos.length, 16, async (i) => {
    const no = nos[i]!;
    if (soak.orders.get(no)!.provider === 'wxpay') trades.set(no, await soak.gateway.trade(no));
    else trades.set(no, alipayAsWxpay(await soak.gateway.alipayTrade(no)));
  });
  const mismatches: string[] = [];
  let paidAtGateway = 0;
  let refundedFen = 0;
  for (const no of nos) {
    const order = ours.get(no);
    const trade = trades.get(no) ?? null;
    const state = trade?.transaction.trade_state ?? 'NONE';
    const status = order?.status ?? 'MISSING';
    const paidThere = state === 'SUCCESS' || state === 'REFUND';
    if (paidThere) paidAtGateway += 1;
    const consistent =
      (paidThere && PAID.has(status)) ||
      (state === 'CLOSED' && status === 'CLOSED') ||
      (state === 'NOTPAY' && status === 'NOTPAY') ||
      (state === 'NONE' && (status === 'NOTPAY' || status === 'CLOSED' || status === 'MISSING'));
    if (!consistent) mismatches.push(`${no}: gateway ${state}, here ${status}`);
    if (!order) continue;
    const gatewayRefunded = (trade?.refunds ?? [])
      .filter((r) => r.status === 'SUCCESS')
      .reduce((sum, r) => sum + r.amount.refund, 0);
    const ourRefunded = (refundsOf.get(no) ?? [])
      .filter((r) => r.status === 'SUCCESS')
      .reduce((sum, r) => sum + r.refund_fee, 0);
    refundedFen += ourRefunded;
    if (ourRefunded > order.total_fee)
      mismatches.push(`${no}: refunded ${ourRefunded} of ${order.total_fee}`);
    if (ourRefunded !== gatewayRefunded)
      mismatches.push(`${no}: refunded ${ourRefunded} here, ${gatewayRefunded} at the gateway`);
    if (order.refunded_fee !== ourRefunded)
      mismatches.push(`${no}: refunded_fee ${order.refunded_fee}, refunds ${ourRefunded}`);
    const gatewayStatus = new Map(
      soak.orders.get(no)!.provider === 'wxpay'
        ? (trade?.refunds ?? []).map((r) => [r.out_refund_no, r.status])
        : [],
    );
    for (const r of refundsOf.get(no) ?? []) {
      const there = gatewayStatus.get(r.out_refund_no);
      if (there !== undefined && there !== r.status)
        mismatches.push(`${r.out_refund_no}: gateway ${there}, here ${r.status}`);
      if (there === undefined && r.status === 'SUCCESS' && soak.orders.get(no)!.provider === 'wxpay')
        mismatches.push(`${r.out_refund_no}: SUCCESS here, unknown at the gateway`);
    }
    const expected =
      ourRefunded === 0 ? 'SUCCESS' : ourRefunded === order.total_fee ? 'REFUNDED' : 'PARTIAL_REFUNDED';
    if (PAID.has(status) && status !== expected)
      mismatches.push(`${no}: ${status} with ${ourRefunded} of ${order.total_fee} refunded`);
  }
  check(
    soak,
    phase,
    mismatches.length === 0,
    `${mismatches.length} orders inconsistent with the gateway: ${mismatches.slice(0, 8).join('; ')}`,
  );

  // Each effect once: one payment.succeeded per paid order, one refund.succeeded per refund.
  const undelivered = await settleWebhooks(soak);
  check(soak, phase, undelivered === 0, `${undelivered} webhook deliveries not delivered after 120 s`);
  // The merchant's acknowledgements, read again now that every delivery settled: the orders above
  // were read while some were still on their way.
  const acknowledged = new Set(
    (
      await soak.db
        .selectFrom('payment_orders')
        .select('out_trade_no')
        .where('merchant_id', '=', soak.merchantId)
        .where('user_order_success', '=', true)
        .execute()
    ).map((row) => row.out_trade_no),
  );
  const events = await soak.db
    .selectFrom('webhook_events')
    .select(['id', 'type', 'out_trade_no', 'out_refund_no'])
    .where('merchant_id', '=', soak.merchantId)
    .execute();
  const perOrder = new Map<string, number>();
  const perRefund = new Map<string, number>();
  const perClose = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'payment.succeeded')
      perOrder.set(e.out_trade_no!, (perOrder.get(e.out_trade_no!) ?? 0) + 1);
    if (e.type === 'refund.succeeded')
      perRefund.set(e.out_refund_no!, (perRefund.get(e.out_refund_no!) ?? 0) + 1);
    if (e.type === 'payment.closed') perClose.set(e.out_trade_no!, (perClose.get(e.out_trade_no!) ?? 0) + 1);
  }
  const effects: string[] = [];
  for (const order of orders) {
    const expected = PAID.has(order.status) ? 1 : 0;
    if ((perOrder.get(order.out_trade_no) ?? 0) !== expected)
      effects.push(
        `${order.out_trade_no} (${order.status}): ${perOrder.get(order.out_trade_no) ?? 0} payment.succeeded`,
      );
    if ((perClose.get(order.out_trade_no) ?? 0) > 1)
      effects.push(`${order.out_trade_no}: ${perClose.get(order.out_trade_no)} payment.closed`);
    if (PAID.has(order.status) && !acknowledged.has(order.out_trade_no))
      effects.push(`${order.out_trade_no}: paid, not acknowledged`);
  }
  for (const r of refunds) {
    const expected = r.status === 'SUCCESS' ? 1 : 0;
    if ((perRefund.get(r.out_refund_no) ?? 0) !== expected)
      effects.push(
        `${r.out_refund_no} (${r.status}): ${perRefund.get(r.out_refund_no) ?? 0} refund.succeeded`,
      );
  }
  check(
    soak,
    phase,
    effects.length === 0,
    `${effects.length} effects not exactly once: ${effects.slice(0, 8).join('; ')}`,
  );
  const received = soak.receiver.events;
  const missing = events.filter((e) => !received.has(e.id));
  const unknown = [...received.keys()].filter((id) => !events.some((e) => e.id === id));
  check(soak, phase, missing.length === 0, `${missing.length} webhook events never reached the merchant`);
  check(soak, phase, unknown.length === 0, `${unknown.length} webhook ids the service never recorded`);
  check(
    soak,
    phase,
    soak.receiver.unverified === 0,
    `${soak.receiver.unverified} webhook deliveries did not verify`,
  );

  // No instance died of the faults; no 5xx for a client mistake; no secret in any log line.
  check(
    soak,
    phase,
    soak.cluster.crashes.length === 0,
    `instances crashed: ${soak.cluster.crashes.join('; ')}`,
  );
  check(
    soak,
    phase,
    soak.client.mistakes.fiveXx.length === 0,
    `client mistakes answered 5xx: ${soak.client.mistakes.fiveXx.slice(0, 5).join('; ')}`,
  );
  let lines = 0;
  let bytes = 0;
  const leaks: string[] = [];
  for (const log of soak.cluster.logs) {
    const text = readFileSync(log, 'utf8');
    bytes += text.length;
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      lines += 1;
      for (const [name, secret] of Object.entries(secrets))
        if (line.includes(secret)) leaks.push(`${name} in ${log}`);
    }
  }
  check(soak, phase, leaks.length === 0, `secrets in logs: ${[...new Set(leaks)].slice(0, 5).join('; ')}`);

  const alipayNotifications = await fetch(
    `${soak.gateway.alipayUrl.replace(/\/gateway\.do$/, '/sandbox/alipay')}/notifications?app_id=${soak.gateway.alipayApp.appId}`,
  ).then((r) => r.json() as Promise<unknown[]>);
  const notifications = await fetch(
    `${soak.gateway.url}/sandbox/notifications?mchid=${soak.gateway.merchant.mchId}`,
  ).then((r) => r.json() as Promise<Array<{ state: string; attempts: Array<{ copy: number }> }>>);
  print(soak, {
    phase,
    seconds: (performance.now() - started) / 1000,
    orders: nos.length,
    paidAtGateway,
    refunds: refunds.length,
    refundedFen,
    wxpayNotifications: notifications.length,
    alipayNotifications: alipayNotifications.length,
    notificationStates: countBy(notifications.map((n) => n.state)),
    notificationSends: notifications.reduce((sum, n) => sum + n.attempts.length, 0),
    duplicateCopies: notifications.filter((n) => n.attempts.some((a) => a.copy > 0)).length,
    inconsistentOrders: mismatches.length,
    webhookEvents: events.length,
    webhookDeliveriesToMerchant: soak.receiver.deliveries,
    webhookFailedOnPurpose: soak.receiver.failedOnPurpose,
    webhookAcceptedTooLate: soak.receiver.answeredLate,
    webhookRedeliveriesDeduped: [...received.values()].reduce((sum, e) => sum + e.accepted - 1, 0),
    clientMistakes: soak.client.mistakes.sent,
    mistakesBusyDuringOutage: soak.client.mistakes.busyDuringOutage,
    answersByStatus: soak.client.statuses,
    logLines: lines,
    logMB: bytes / 1e6,
    secretsChecked: Object.keys(secrets).length,
    secretsFound: leaks.length,
  });
}
