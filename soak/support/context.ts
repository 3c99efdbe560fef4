/**
 * What every phase shares: the cluster, the client, the gateway, the receiver, a connection to the
 * soak's database, the orders and refunds made so far, and the figures and violations recorded.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { runConcurrently } from '../../bench/support/load.ts';
import type { Database } from '../../src/store/schema.ts';
import type { Client } from './client.ts';
import type { Cluster } from './cluster.ts';
import type { Gateway } from './gateway.ts';
import type { Receiver } from './receiver.ts';

export interface Sizes {
  quick: boolean;
  instances: number;
  payments: number;
  killPayments: number;
  lost: number;
  postgresPayments: number;
  redisPayments: number;
  gatewayFaults: number;
  refundOrders: number;
  concurrency: number;
}

export interface SoakOrder {
  provider: 'wxpay' | 'alipay';
  totalFen: number;
  phase: string;
  /** Paid at the gateway by the soak (the gateway's own record is checked anyway). */
  paid: boolean;
  /** The service answered the create with 200 (a failed create is a violation, and is not paid). */
  created: boolean;
}

export interface Figures {
  phase: string;
  seconds: number;
  [figure: string]: unknown;
}

export interface Soak {
  sizes: Sizes;
  merchantId: string;
  cluster: Cluster;
  client: Client;
  gateway: Gateway;
  receiver: Receiver;
  db: Kysely<Database>;
  orders: Map<string, SoakOrder>;
  refunds: Map<string, { outTradeNo: string; fee: number }>;
  figures: Figures[];
  violations: string[];
  /** A run-unique prefix for out_trade_no and out_refund_no. */
  prefix: string;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function check(soak: Soak, phase: string, ok: boolean, what: string): void {
  if (!ok) soak.violations.push(`${phase}: ${what}`);
}

export function newOrderNo(soak: Soak, tag: string): string {
  return `${soak.prefix}${tag}${randomBytes(5).toString('hex')}`.toUpperCase();
}

/** Creates one order through the service (retrying as a client does), remembered for the checks. */
export async function createOrder(
  soak: Soak,
  phase: string,
  tag: string,
  provider: 'wxpay' | 'alipay' = 'wxpay',
): Promise<string> {
  const outTradeNo = newOrderNo(soak, tag);
  const fee = 100 + Math.floor(Math.random() * 9_900);
  soak.orders.set(outTradeNo, { provider, totalFen: fee, phase, paid: false, created: false });
  const answer = await soak.client.call(
    'POST',
    '/api/payments',
    {
      provider,
      scene: 'native',
      out_trade_no: outTradeNo,
      total_fee: fee,
      subject: 'soak',
      type: 'goods',
    },
    120_000,
  );
  soak.orders.get(outTradeNo)!.created = answer.status === 200;
  if (answer.status !== 200)
    soak.violations.push(
      `${phase}: creating ${outTradeNo} answered ${answer.status} ${answer.text.slice(0, 200)}`,
    );
  return outTradeNo;
}

export async function createOrders(
  soak: Soak,
  phase: string,
  tag: string,
  count: number,
  onEach?: (outTradeNo: string, i: number) => Promise<void>,
  providerOf: (i: number) => 'wxpay' | 'alipay' = () => 'wxpay',
): Promise<string[]> {
  const made: string[] = [];
  await runConcurrently(count, soak.sizes.concurrency, async (i) => {
    const no = await createOrder(soak, phase, tag, providerOf(i));
    made.push(no);
    if (onEach) await onEach(no, i);
  });
  return made;
}

export async function payAtGateway(soak: Soak, outTradeNo: string): Promise<void> {
  const order = soak.orders.get(outTradeNo)!;
  if (!order.created) return;
  if (order.provider === 'alipay') await soak.gateway.alipayPay(outTradeNo);
  else await soak.gateway.pay(outTradeNo);
  order.paid = true;
}

/** Orders of `nos` in each status, read from the database. */
export async function statusesOf(soak: Soak, nos: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < nos.length; i += 1000) {
    const rows = await soak.db
      .selectFrom('payment_orders')
      .select(['out_trade_no', 'status'])
      .where('merchant_id', '=', soak.merchantId)
      .where('out_trade_no', 'in', nos.slice(i, i + 1000))
      .execute();
    for (const row of rows) out.set(row.out_trade_no, row.status);
  }
  return out;
}

const PAID = new Set(['SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED']);

/** Waits until every order of `nos` is paid here; returns the seconds it took and those still unpaid. */
export async function waitPaid(
  soak: Soak,
  nos: readonly string[],
  timeoutMs: number,
): Promise<{ seconds: number; unpaid: string[] }> {
  const started = performance.now();
  let unpaid = nos.filter((no) => soak.orders.get(no)?.paid);
  while (unpaid.length > 0 && performance.now() - started < timeoutMs) {
    const statuses = await statusesOf(soak, unpaid).catch(() => new Map<string, string>());
    unpaid = unpaid.filter((no) => !PAID.has(statuses.get(no) ?? ''));
    if (unpaid.length > 0) await sleep(250);
  }
  return { seconds: (performance.now() - started) / 1000, unpaid };
}

export function print(soak: Soak, figures: Figures): void {
  soak.figures.push(figures);
  const { phase, ...rest } = figures;
  const text = Object.entries(rest)
    .map(
      ([name, value]) =>
        `${name}=${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(2) : typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
    )
    .join(' ');
  process.stdout.write(`[soak] ${phase}: ${text}\n`);
}
