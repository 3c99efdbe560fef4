/**
 * Process faults: one instance killed with SIGKILL in the middle of a payment storm, another in the
 * middle of a burst of refunds, each restarted. Requests the dead process held are lost with it (the
 * balancer answers 502, the client retries, the gateway resends callbacks): nothing may be lost or
 * applied twice. Recovery time: from the kill to the new process answering.
 */
import { runConcurrently } from '../../bench/support/load.ts';
import { check, createOrders, payAtGateway, print, type Soak, sleep, waitPaid } from '../support/context.ts';

async function killAndRestart(soak: Soak, index: number): Promise<{ pid: number; restartSeconds: number }> {
  const pid = soak.cluster.instances[index]!.pid;
  const killedAt = performance.now();
  await soak.cluster.kill(index);
  await sleep(1_000);
  await soak.cluster.start(index);
  return { pid, restartSeconds: (performance.now() - killedAt) / 1000 };
}

export async function instanceKill(soak: Soak): Promise<void> {
  const phase = 'instance kill';
  const started = performance.now();
  const count = soak.sizes.killPayments;
  const errorsBefore = soak.cluster.balancerErrors;
  const nos = await createOrders(soak, phase, 'K', count);
  let killing: Promise<{ pid: number; restartSeconds: number }> | null = null;
  await runConcurrently(nos.length, soak.sizes.concurrency, async (i) => {
    if (i === Math.floor(nos.length * 0.4)) killing = killAndRestart(soak, 0);
    await payAtGateway(soak, nos[i]!);
    if (i % 3 === 0) await soak.client.call('GET', `/api/payments/${nos[i]}`);
  });
  const stormKill = await (killing as unknown as Promise<{ pid: number; restartSeconds: number }>);
  const paid = await waitPaid(soak, nos, 120_000);
  check(
    soak,
    phase,
    paid.unpaid.length === 0,
    `${paid.unpaid.length} paid orders not SUCCESS after the kill`,
  );

  // Refunds, two per order (a part, then the rest), with the second instance killed midway.
  const refunded = nos.slice(0, Math.min(nos.length, Math.max(20, Math.floor(nos.length / 2))));
  const requests = refunded.flatMap((no) => {
    const total = soak.orders.get(no)!.totalFen;
    const first = Math.floor(total / 3);
    return [
      { no, outRefundNo: `${no}R1`, fee: first },
      { no, outRefundNo: `${no}R2`, fee: total - first },
    ];
  });
  let refundKill: Promise<{ pid: number; restartSeconds: number }> | null = null;
  const answers: Record<string, number> = {};
  await runConcurrently(requests.length, soak.sizes.concurrency, async (i) => {
    if (i === Math.floor(requests.length * 0.4))
      refundKill = killAndRestart(soak, 1 % soak.cluster.instances.length);
    const { no, outRefundNo, fee } = requests[i]!;
    soak.refunds.set(outRefundNo, { outTradeNo: no, fee });
    const answer = await soak.client.call('POST', '/api/refunds', {
      out_trade_no: no,
      out_refund_no: outRefundNo,
      refund_fee: fee,
    });
    answers[String(answer.status)] = (answers[String(answer.status)] ?? 0) + 1;
    check(
      soak,
      phase,
      answer.status === 200,
      `refund ${outRefundNo} answered ${answer.status} ${answer.text.slice(0, 160)}`,
    );
  });
  const secondKill = await (refundKill as unknown as Promise<{ pid: number; restartSeconds: number }>);
  print(soak, {
    phase,
    seconds: (performance.now() - started) / 1000,
    payments: count,
    killedMidStorm: stormKill.pid,
    killedMidRefunds: secondKill.pid,
    restartSeconds: [stormKill.restartSeconds, secondKill.restartSeconds],
    refunds: requests.length,
    refundAnswers: answers,
    lostWithTheProcess: soak.cluster.balancerErrors - errorsBefore,
    settledSeconds: paid.seconds,
  });
}
