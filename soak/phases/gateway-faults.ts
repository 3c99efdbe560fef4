/**
 * Gateway faults: the gateway answers creates after the service's timeout (having created the
 * trade), fails refunds and closes after doing them (an outage on writes: the outcome is unknown to
 * the service), and stalls queries. The first answers are errors the merchant may retry; every case
 * must be settled afterwards by querying, matching the gateway's own record.
 */
import { runConcurrently } from '../../bench/support/load.ts';
import {
  check,
  createOrder,
  newOrderNo,
  payAtGateway,
  print,
  type Soak,
  sleep,
  waitPaid,
} from '../support/context.ts';
import { countBy } from './storm.ts';

export async function gatewayFaults(soak: Soak, timeoutMs: number): Promise<void> {
  const phase = 'gateway faults';
  const started = performance.now();
  const count = soak.sizes.gatewayFaults;
  const firstAnswers: string[] = [];

  // Slow creates: the trade exists at the gateway, the answer comes after the timeout.
  const slow: string[] = [];
  await runConcurrently(count, soak.sizes.concurrency, async () => {
    const no = newOrderNo(soak, 'G');
    const fee = 500;
    soak.orders.set(no, { provider: 'wxpay', totalFen: fee, phase, paid: false, created: false });
    await soak.gateway.fault({
      kind: 'delay',
      operation: 'prepay',
      outTradeNo: no,
      delayMs: timeoutMs + 1_000,
      afterHandling: true,
      times: 1,
    });
    const body = {
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: fee,
      subject: 'soak',
      type: 'goods',
    };
    const first = await soak.client.send('POST', '/api/payments', body);
    firstAnswers.push(`create:${first.status}`);
    // The merchant tries again with the same out_trade_no.
    const again = await soak.client.call('POST', '/api/payments', body);
    soak.orders.get(no)!.created = again.status === 200;
    check(
      soak,
      phase,
      again.status === 200,
      `create ${no} again answered ${again.status} ${again.text.slice(0, 160)}`,
    );
    slow.push(no);
  });
  await runConcurrently(slow.length, soak.sizes.concurrency, (i) => payAtGateway(soak, slow[i]!));
  const paid = await waitPaid(soak, slow, 60_000);
  check(soak, phase, paid.unpaid.length === 0, `${paid.unpaid.length} slow-created orders not SUCCESS`);

  // Refunds that fail after the gateway did them, then settled by query.
  const refunds: string[] = [];
  await runConcurrently(slow.length, soak.sizes.concurrency, async (i) => {
    const no = slow[i]!;
    const outRefundNo = `${no}F`;
    soak.refunds.set(outRefundNo, { outTradeNo: no, fee: 200 });
    await soak.gateway.fault({
      kind: i % 2 ? 'systemError' : 'badGateway',
      operation: 'refund',
      outTradeNo: no,
      afterHandling: true,
      // Half of them outlast the service's own retries (three attempts): the merchant gets an error.
      times: i % 4 < 2 ? 3 : 1,
    });
    const first = await soak.client.send('POST', '/api/refunds', {
      out_trade_no: no,
      out_refund_no: outRefundNo,
      refund_fee: 200,
    });
    firstAnswers.push(`refund:${first.status}`);
    refunds.push(outRefundNo);
  });

  // Closes that fail after the gateway closed the trade, then settled by query.
  const closes: string[] = [];
  await runConcurrently(count, soak.sizes.concurrency, async (i) => {
    const no = await createOrder(soak, phase, 'C');
    await soak.gateway.fault({
      kind: 'systemError',
      operation: 'close',
      outTradeNo: no,
      afterHandling: true,
      times: i % 2 ? 3 : 1,
    });
    const first = await soak.client.send('POST', `/api/payments/${no}/close`);
    firstAnswers.push(`close:${first.status}`);
    closes.push(no);
  });

  // Settling: the merchant queries until the service's answer agrees with the gateway.
  const settleFrom = performance.now();
  let unsettled = [...refunds.map((r) => `refund:${r}`), ...closes.map((c) => `order:${c}`)];
  while (unsettled.length > 0 && performance.now() - settleFrom < 60_000) {
    const still: string[] = [];
    await runConcurrently(unsettled.length, soak.sizes.concurrency, async (i) => {
      const [kind, id] = unsettled[i]!.split(':') as [string, string];
      if (kind === 'refund') {
        const answer = await soak.client.call('GET', `/api/refunds/${id}`);
        if (answer.body?.data?.refund?.status !== 'SUCCESS') still.push(unsettled[i]!);
      } else {
        const answer = await soak.client.call('GET', `/api/payments/${id}`);
        if (answer.body?.data?.order?.status !== 'CLOSED') still.push(unsettled[i]!);
      }
    });
    unsettled = still;
    if (unsettled.length > 0) await sleep(500);
  }
  check(
    soak,
    phase,
    unsettled.length === 0,
    `${unsettled.length} writes never settled by query: ${unsettled.slice(0, 5)}`,
  );
  print(soak, {
    phase,
    seconds: (performance.now() - started) / 1000,
    slowCreates: slow.length,
    failedRefunds: refunds.length,
    failedCloses: closes.length,
    firstAnswers: countBy(firstAnswers),
    settledByQuerySeconds: (performance.now() - settleFrom) / 1000,
    unsettled: unsettled.length,
  });
}
