/**
 * Concurrent refunds and closes on the same orders from every instance: each paid order gets more
 * partial refunds at once than its amount allows, plus closes (refused: it is paid); unpaid orders
 * get closes from every instance at once while the payer pays some of them at the same moment.
 * Refunds may never exceed the paid amount; what is refunded here must equal the gateway's.
 */
import { runConcurrently } from '../../bench/support/load.ts';
import { check, createOrders, payAtGateway, print, type Soak, sleep, waitPaid } from '../support/context.ts';
import { countBy } from './storm.ts';

export async function refundsAndCloses(soak: Soak): Promise<void> {
  const phase = 'refunds and closes';
  const started = performance.now();
  const count = soak.sizes.refundOrders;
  const paidNos = await createOrders(soak, phase, 'F', count);
  await runConcurrently(paidNos.length, soak.sizes.concurrency, (i) => payAtGateway(soak, paidNos[i]!));
  const paid = await waitPaid(soak, paidNos, 60_000);
  check(soak, phase, paid.unpaid.length === 0, `${paid.unpaid.length} orders not SUCCESS`);

  // Eight refunds of a quarter of the amount each, at once, plus two closes, on every order.
  const answers: string[] = [];
  const requests = paidNos.flatMap((no) => {
    const quarter = Math.floor(soak.orders.get(no)!.totalFen / 4);
    return [
      ...Array.from({ length: 8 }, (_, k) => ({
        no,
        kind: 'refund',
        outRefundNo: `${no}Q${k}`,
        fee: quarter,
      })),
      { no, kind: 'close', outRefundNo: '', fee: 0 },
      { no, kind: 'close', outRefundNo: '', fee: 0 },
    ];
  });
  requests.sort(() => Math.random() - 0.5);
  await runConcurrently(requests.length, soak.sizes.concurrency * 2, async (i) => {
    const r = requests[i]!;
    if (r.kind === 'refund') {
      soak.refunds.set(r.outRefundNo, { outTradeNo: r.no, fee: r.fee });
      const answer = await soak.client.call('POST', '/api/refunds', {
        out_trade_no: r.no,
        out_refund_no: r.outRefundNo,
        refund_fee: r.fee,
      });
      answers.push(`refund:${answer.status}/${answer.body?.code ?? '-'}`);
      check(
        soak,
        phase,
        answer.status < 500,
        `refund ${r.outRefundNo} answered ${answer.status} ${answer.text.slice(0, 160)}`,
      );
    } else {
      const answer = await soak.client.call('POST', `/api/payments/${r.no}/close`);
      answers.push(`close-paid:${answer.status}/${answer.body?.code ?? '-'}`);
      check(
        soak,
        phase,
        answer.status >= 400 && answer.status < 500,
        `closing paid ${r.no} answered ${answer.status}`,
      );
    }
  });

  // Unpaid orders closed from every instance at once, half of them paid by the payer meanwhile.
  const unpaidNos = await createOrders(soak, phase, 'U', count);
  await runConcurrently(unpaidNos.length, soak.sizes.concurrency, async (i) => {
    const no = unpaidNos[i]!;
    const closes = Array.from({ length: soak.cluster.instances.length }, () =>
      soak.client.call('POST', `/api/payments/${no}/close`),
    );
    const pay =
      i % 2 === 0
        ? soak.gateway.pay(no).then(
            () => 'paid',
            () => 'refused',
          )
        : Promise.resolve('not tried');
    const [outcome, ...closed] = await Promise.all([pay, ...closes]);
    if (outcome === 'paid') soak.orders.get(no)!.paid = true;
    for (const answer of closed) {
      answers.push(`close-unpaid:${answer.status}/${answer.body?.code ?? '-'}`);
      check(
        soak,
        phase,
        answer.status < 500,
        `closing ${no} answered ${answer.status} ${answer.text.slice(0, 160)}`,
      );
    }
  });
  await sleep(1_000);
  const refundRows = await soak.db
    .selectFrom('payment_refunds')
    .select(['out_trade_no', 'refund_fee', 'status'])
    .where('merchant_id', '=', soak.merchantId)
    .where('out_trade_no', 'in', paidNos)
    .execute();
  const asked = countBy(refundRows.map((r) => r.status));
  print(soak, {
    phase,
    seconds: (performance.now() - started) / 1000,
    paidOrders: paidNos.length,
    refundRequests: paidNos.length * 8,
    refundsRecorded: refundRows.length,
    refundStatuses: asked,
    unpaidOrdersClosedConcurrently: unpaidNos.length,
    answers: countBy(answers),
  });
}
