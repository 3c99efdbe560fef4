/**
 * PostgreSQL and Redis taken away under load. While payments are made and paid and their callbacks
 * arrive, PostgreSQL's connections are killed (pg_terminate_backend), then PostgreSQL is restarted:
 * callbacks meanwhile must be answered with an error so the gateway sends them again, /readyz must
 * say not ready, and nothing may be lost. Redis is shut down (nothing saved) and started again:
 * callbacks go on (the database is the truth), signed requests are refused with 40010 rather than
 * risk a replay, and nonces and rate limits work again once it is back. Recovery time: from the
 * server's return to every instance ready and a payment created.
 */
import pg from 'pg';
import { check, createOrder, payAtGateway, print, type Soak, sleep, waitPaid } from '../support/context.ts';
import { restartPostgres, startRedis, stopRedis } from '../support/servers.ts';
import { countBy } from './storm.ts';

const POSTGRES_DOWN_MS = 2_000;

interface Load {
  nos: string[];
  stop(): Promise<void>;
}

/** Workers creating an order and paying it at the gateway, until stopped or `count` are made. */
function startLoad(soak: Soak, phase: string, tag: string, count: number): Load {
  const nos: string[] = [];
  let stopped = false;
  let made = 0;
  const workers = Array.from({ length: Math.max(2, Math.floor(soak.sizes.concurrency / 2)) }, async () => {
    while (!stopped && made < count) {
      made += 1;
      const no = await createOrder(soak, phase, tag, made % 4 === 0 ? 'alipay' : 'wxpay');
      nos.push(no);
      await payAtGateway(soak, no).catch((error) => soak.violations.push(`${phase}: paying ${no}: ${error}`));
      if (made % 7 === 0) await soak.client.mistake();
    }
  });
  return {
    nos,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/** Polls every instance's /readyz; notes when each first answered not ready and when ready again. */
function watchReadiness(soak: Soak) {
  const notReady: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        soak.cluster.instances
          .filter((instance) => instance.alive)
          .map(async (instance) => {
            const answer = await fetch(`${instance.url}/readyz`, {
              signal: AbortSignal.timeout(2_000),
            }).catch(() => null);
            if (answer) await answer.arrayBuffer();
            // No answer within 2 s is not ready either.
            if (answer?.status !== 200) notReady.push(Date.now());
          }),
      );
      await sleep(100);
    }
  })();
  return {
    notReady,
    async allReady(timeoutMs: number): Promise<number> {
      const from = performance.now();
      while (performance.now() - from < timeoutMs) {
        const answers = await Promise.all(
          soak.cluster.instances.map((instance) =>
            fetch(`${instance.url}/readyz`, { signal: AbortSignal.timeout(2_000) })
              .then(async (r) => {
                await r.arrayBuffer();
                return r.status;
              })
              .catch(() => 0),
          ),
        );
        if (answers.every((status) => status === 200)) return performance.now();
        await sleep(50);
      }
      return Number.NaN;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

async function createsAgain(soak: Soak, phase: string, tag: string): Promise<number> {
  await createOrder(soak, phase, tag);
  return performance.now();
}

export async function postgresOutage(soak: Soak, adminUrl: string, database: string): Promise<void> {
  const phase = 'postgres';
  const started = performance.now();
  const callbacksBefore = soak.cluster.callbacks.length;
  const load = startLoad(soak, phase, 'P', soak.sizes.postgresPayments);
  const readiness = watchReadiness(soak);
  let terminated = 0;
  let restartSeconds = Number.NaN;
  let recoverySeconds = Number.NaN;
  let outageStart = 0;
  try {
    while (load.nos.length < soak.sizes.postgresPayments * 0.25) await sleep(50);
    // Every connection of the instances (and of this process) to the soak's database, cut at once.
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const cut = await admin.query(
      'select count(*) filter (where pg_terminate_backend(pid)) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database],
    );
    await admin.end();
    terminated = Number(cut.rows[0]?.n ?? 0);
    await sleep(1_500);
    while (load.nos.length < soak.sizes.postgresPayments * 0.5) await sleep(50);
    outageStart = Date.now();
    const outage = { what: 'postgres', from: outageStart, to: null as number | null };
    soak.client.outages.push(outage);
    const restartFrom = performance.now();
    // Down for two seconds: long enough for callbacks and probes to meet it, short for everyone else.
    await restartPostgres(POSTGRES_DOWN_MS);
    outage.to = Date.now();
    const back = performance.now();
    restartSeconds = (back - restartFrom) / 1000;
    const ready = await readiness.allReady(60_000);
    const created = await createsAgain(soak, phase, 'P');
    recoverySeconds = (Math.max(ready, created) - back) / 1000;
  } finally {
    await readiness.stop();
    await load.stop();
  }
  const paid = await waitPaid(soak, load.nos, 120_000);
  const callbacks = soak.cluster.callbacks.slice(callbacksBefore);
  const notReadyDuring = readiness.notReady.filter((at) => at >= outageStart - 100).length;
  check(
    soak,
    phase,
    paid.unpaid.length === 0,
    `${paid.unpaid.length} paid orders not SUCCESS after the restart`,
  );
  check(soak, phase, notReadyDuring > 0, '/readyz never answered not ready while PostgreSQL was down');
  check(soak, phase, Number.isFinite(recoverySeconds), 'the instances were not ready again within 60 s');
  print(soak, {
    phase,
    seconds: (performance.now() - started) / 1000,
    payments: load.nos.length,
    connectionsTerminated: terminated,
    restartSeconds,
    recoverySeconds,
    readyzNotReadyAnswers: notReadyDuring,
    callbacks: callbacks.length,
    callbacksByStatus: countBy(callbacks.map((c) => String(c.status))),
    settledSeconds: paid.seconds,
  });
}

export async function redisOutage(soak: Soak, limitedApp: { appId: string; secret: string }): Promise<void> {
  const phase = 'redis';
  const started = performance.now();
  const load = startLoad(soak, phase, 'R', soak.sizes.redisPayments);
  const readiness = watchReadiness(soak);
  const during: Record<string, number> = {};
  let replayAccepted = 0;
  let paidDuringOutage: string[] = [];
  let downSeconds = 0;
  let recoverySeconds = Number.NaN;
  let outageStart = 0;
  try {
    while (load.nos.length < soak.sizes.redisPayments * 0.3) await sleep(50);
    // Orders made before the outage, paid while Redis is away: their callbacks must still apply.
    const waiting: string[] = [];
    for (let i = 0; i < 10; i++)
      waiting.push(await createOrder(soak, phase, 'R', i % 2 ? 'alipay' : 'wxpay'));
    outageStart = Date.now();
    const outage = { what: 'redis', from: outageStart, to: null as number | null };
    soak.client.outages.push(outage);
    try {
      await stopRedis();
      const downFrom = performance.now();
      await Promise.all(waiting.map((no) => payAtGateway(soak, no)));
      paidDuringOutage = waiting;
      // Signed requests while the nonce cannot be recorded: each one, and its replay, refused.
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const nonce = `outage${Date.now()}${i}`;
          const timestamp = String(Math.floor(Date.now() / 1000));
          const path = `/api/payments/${waiting[i % waiting.length]}`;
          for (let copy = 0; copy < 2; copy++) {
            const answer = await soak.client.send('GET', path, undefined, { nonce, timestamp });
            const key = `${answer.status}/${answer.body?.code ?? '-'}`;
            during[key] = (during[key] ?? 0) + 1;
            if (answer.status < 300) replayAccepted += copy;
          }
        }),
      );
      // The database is the truth: the callbacks of orders paid now are applied without Redis.
      const applied = await waitPaid(soak, waiting, 8_000);
      check(
        soak,
        phase,
        applied.unpaid.length === 0,
        `${applied.unpaid.length} callbacks not applied while Redis was down`,
      );
      while (performance.now() - downFrom < 3_000) await sleep(100);
      downSeconds = (performance.now() - downFrom) / 1000;
    } finally {
      await startRedis();
      outage.to = Date.now();
    }
    const back = performance.now();
    const ready = await readiness.allReady(60_000);
    const created = await createsAgain(soak, phase, 'R');
    recoverySeconds = (Math.max(ready, created) - back) / 1000;
  } finally {
    await readiness.stop();
    await load.stop();
  }
  // Nonces are recorded again: the same signed request twice is refused the second time.
  const nonce = `after${Date.now()}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const first = await soak.client.send('GET', `/api/payments/${load.nos[0]}`, undefined, {
    nonce,
    timestamp,
  });
  const replay = await soak.client.send('GET', `/api/payments/${load.nos[0]}`, undefined, {
    nonce,
    timestamp,
  });
  check(soak, phase, first.status === 200, `a signed query after Redis returned answered ${first.status}`);
  check(
    soak,
    phase,
    replay.status === 401 && replay.body?.code === 40002,
    `a replay after Redis returned answered ${replay.status}`,
  );
  // Rate limits count again: the limited app's 5 queries per 10 s window, then 429.
  const limited: number[] = [];
  for (let i = 0; i < 7; i++)
    limited.push(
      (await soak.client.send('GET', `/api/payments/${load.nos[0]}`, undefined, { app: limitedApp })).status,
    );
  check(soak, phase, limited.includes(429), `the rate limit did not hold after Redis returned: ${limited}`);
  check(soak, phase, replayAccepted === 0, `${replayAccepted} replays accepted while Redis was down`);
  check(
    soak,
    phase,
    Object.keys(during).every((key) => key === '503/40010'),
    `signed requests during the outage answered ${JSON.stringify(during)}`,
  );
  const paid = await waitPaid(soak, load.nos, 120_000);
  check(
    soak,
    phase,
    paid.unpaid.length === 0,
    `${paid.unpaid.length} paid orders not SUCCESS after Redis returned`,
  );
  const notReadyDuring = readiness.notReady.filter((at) => at >= outageStart - 100).length;
  print(soak, {
    phase,
    seconds: (performance.now() - started) / 1000,
    payments: load.nos.length + paidDuringOutage.length,
    redisDownSeconds: downSeconds,
    paidAndAppliedDuringOutage: paidDuringOutage.length,
    signedRequestsDuringOutage: during,
    replaysAccepted: replayAccepted,
    readyzNotReadyAnswers: notReadyDuring,
    recoverySeconds,
    afterReturn: { first: first.status, replay: replay.status, limitedApp: limited.join(',') },
    settledSeconds: paid.seconds,
  });
}
