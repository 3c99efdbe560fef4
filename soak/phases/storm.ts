/**
 * Storm: many payments paid at once (a fifth of them through Alipay), their callbacks duplicated, delayed and reordered by the
 * gateway, replayed by an attacker who kept a copy, spread by the balancer over every instance, with
 * concurrent queries from the merchant, client mistakes, and a merchant webhook handler failing on
 * a share of deliveries. Every order must end SUCCESS here, once.
 */
import { runConcurrently } from '../../bench/support/load.ts';
import { check, createOrders, payAtGateway, print, type Soak, sleep, waitPaid } from '../support/context.ts';

export async function storm(soak: Soak): Promise<void> {
  const phase = 'storm';
  const started = performance.now();
  const count = soak.sizes.payments;
  soak.receiver.failShare = 0.1;
  soak.receiver.slowShare = 0.03;
  soak.receiver.slowMs = 1_300;
  const callbacksBefore = soak.cluster.callbacks.length;
  let queries = 0;
  let faults = 0;
  // The notification faults are set per order before it is paid, so they hit that order alone.
  // Every fifth order is paid through Alipay. The notification faults are set per order before it
  // is paid, so they hit that order alone.
  const providerOf = (i: number) => (i % 5 === 4 ? 'alipay' : 'wxpay');
  const nos = await createOrders(
    soak,
    phase,
    'S',
    count,
    async (no, i) => {
      const draw = i % 10;
      const kind = draw < 3 ? 'duplicate' : draw < 5 ? 'reorder' : draw < 6 ? 'delay' : null;
      if (!kind) return;
      const fault = {
        channel: 'notify' as const,
        kind,
        outTradeNo: no,
        delayMs: kind === 'delay' ? 500 : 300,
      };
      if (providerOf(i) === 'alipay') await soak.gateway.alipayFault(fault);
      else await soak.gateway.fault(fault);
      faults += 1;
    },
    providerOf,
  );
  const created = performance.now();
  // Paid in a shuffled order, with the merchant querying each order about when it is paid.
  const shuffled = [...nos].sort(() => Math.random() - 0.5);
  await runConcurrently(shuffled.length, soak.sizes.concurrency, async (i) => {
    const no = shuffled[i]!;
    await payAtGateway(soak, no);
    if (i % 2 === 0) {
      queries += 1;
      const answer = await soak.client.call('GET', `/api/payments/${no}`);
      check(soak, phase, answer.status === 200, `query of ${no} answered ${answer.status}`);
    }
    if (i % 10 === 0) await soak.client.mistake();
  });
  const paid = await waitPaid(soak, nos, 120_000);
  check(
    soak,
    phase,
    paid.unpaid.length === 0,
    `${paid.unpaid.length} paid orders not SUCCESS: ${paid.unpaid.slice(0, 5)}`,
  );
  // An attacker (or a confused proxy) sends a fifth of the callbacks again, as they were.
  const captured = soak.cluster.callbacks.slice(callbacksBefore).filter((c) => c.status < 300);
  const replays = captured.filter((_, i) => i % 5 === 0);
  let replayedOk = 0;
  await runConcurrently(replays.length, soak.sizes.concurrency, async (i) => {
    const callback = replays[i]!;
    const answer = await fetch(`${soak.cluster.url}${callback.path}`, {
      method: 'POST',
      headers: callback.headers,
      body: callback.body,
    });
    await answer.arrayBuffer();
    if (answer.status < 300) replayedOk += 1;
    check(soak, phase, answer.status < 500, `a replayed callback answered ${answer.status}`);
  });
  await sleep(500);
  const callbacks = soak.cluster.callbacks.slice(callbacksBefore);
  print(soak, {
    phase,
    seconds: (performance.now() - started) / 1000,
    payments: count,
    createdPerSecond: count / ((created - started) / 1000),
    settledSeconds: paid.seconds,
    callbacks: callbacks.length,
    callbacksByStatus: countBy(callbacks.map((c) => String(c.status))),
    alipayPayments: nos.filter((no) => soak.orders.get(no)!.provider === 'alipay').length,
    ordersWithNotifyFaults: faults,
    replayed: replays.length,
    replayedAnswered2xx: replayedOk,
    queries,
    unpaid: paid.unpaid.length,
  });
}

export function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const value of values) out[value] = (out[value] ?? 0) + 1;
  return out;
}
