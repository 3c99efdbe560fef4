/**
 * Lost callbacks: orders paid at the gateway whose every notification is dropped, and nobody asks
 * about them; the service's sync job (a short interval here) must find each one paid on its own.
 * Started early and checked later, because the job first looks at an order a minute after it was
 * made. Recovery time: from the payment to SUCCESS here.
 */
import { runConcurrently } from '../../bench/support/load.ts';
import { check, createOrders, payAtGateway, print, type Soak, statusesOf } from '../support/context.ts';

export interface LostCallbacks {
  settle(): Promise<void>;
}

export async function startLostCallbacks(soak: Soak): Promise<LostCallbacks> {
  const phase = 'lost callbacks';
  const started = performance.now();
  const nos = await createOrders(soak, phase, 'L', soak.sizes.lost, async (no) => {
    await soak.gateway.fault({ channel: 'notify', kind: 'drop', outTradeNo: no, times: 'always' });
  });
  const paidAt = new Map<string, number>();
  await runConcurrently(nos.length, soak.sizes.concurrency, async (i) => {
    await payAtGateway(soak, nos[i]!);
    paidAt.set(nos[i]!, Date.now());
  });
  // Watched from now on, so the time to heal is the job's, not the time until the soak looks.
  const healedAt = new Map<string, number>();
  const watching = (async () => {
    const deadline = Date.now() + 300_000;
    while (healedAt.size < nos.length && Date.now() < deadline) {
      const statuses = await statusesOf(soak, nos).catch(() => new Map<string, string>());
      for (const no of nos)
        if (!healedAt.has(no) && statuses.get(no) && statuses.get(no) !== 'NOTPAY')
          healedAt.set(no, Date.now());
      if (healedAt.size < nos.length) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  return {
    async settle() {
      await watching;
      const dropped = (await Promise.all(nos.map((no) => soak.gateway.notifications(no))))
        .flat()
        .filter((n) => n.state === 'dropped').length;
      const heal = [...healedAt].map(([no, at]) => (at - paidAt.get(no)!) / 1000).sort((a, b) => a - b);
      check(
        soak,
        phase,
        healedAt.size === nos.length,
        `${nos.length - healedAt.size} lost callbacks never healed`,
      );
      check(
        soak,
        phase,
        dropped === nos.length,
        `${dropped} of ${nos.length} notifications dropped by the gateway`,
      );
      print(soak, {
        phase,
        seconds: (performance.now() - started) / 1000,
        orders: nos.length,
        notificationsDropped: dropped,
        healed: healedAt.size,
        healSecondsMedian: heal[Math.floor(heal.length / 2)] ?? null,
        healSecondsMax: heal.at(-1) ?? null,
      });
    },
  };
}
