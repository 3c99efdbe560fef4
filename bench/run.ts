/**
 * `npm run bench`: prints each figure with the baseline measured in the same run.
 * PostgreSQL figures need BENCH_DATABASE_URL (or DATABASE_URL); without it only PGlite runs.
 */
import { randomBytes } from 'node:crypto';
import { dropSchema } from '../src/store/db.ts';
import { type ApplyBenchResult, benchApplyPayment } from './apply-payment.ts';

const orders = Number(process.env.BENCH_ORDERS ?? 2000);
const databaseUrl =
  process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL || process.env.VKPAY_TEST_DATABASE_URL;

function print(result: ApplyBenchResult): void {
  const f = (n: number) => n.toFixed(0).padStart(7);
  process.stdout.write(
    `${result.backend.padEnd(10)} orders=${result.orders} concurrency=${String(result.concurrency).padEnd(3)} ` +
      `plain INSERT/s ${f(result.insertsPerSecond)}  applyPaymentResult/s ${f(result.appliesPerSecond)}  ` +
      `ratio ${result.ratio.toFixed(3)}\n`,
  );
}

process.stdout.write(
  'applyPaymentResult throughput (each apply: lock, checks, update, handler insert, event, log row)\n',
);
print(await benchApplyPayment('pglite', { dataDir: 'memory' }, orders, 8));
if (databaseUrl) {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  try {
    print(
      await benchApplyPayment(
        'postgres',
        { databaseUrl, schema, pool: { max: 16, acquireTimeoutMs: 30_000, idleTimeoutMs: 10_000 } },
        orders,
        16,
      ),
    );
  } finally {
    await dropSchema(databaseUrl, schema);
  }
} else {
  process.stdout.write('postgres   skipped: set BENCH_DATABASE_URL to a PostgreSQL server\n');
}
