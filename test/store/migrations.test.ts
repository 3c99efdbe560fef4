import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { dropSchema, openStore, type StoreConfig } from '../../src/store/db.ts';
import { MIGRATIONS, migrate } from '../../src/store/migrations.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';

const stores: Array<{
  name: string;
  config: () => StoreConfig;
  cleanup: (config: StoreConfig) => Promise<void>;
}> = [
  {
    name: 'pglite on disk',
    config: () => ({ dataDir: mkdtempSync(join(tmpdir(), 'vkpay-')) }),
    cleanup: async (config) => rmSync(config.dataDir!, { recursive: true, force: true }),
  },
];
if (serverUrls.databaseUrl) {
  const databaseUrl = serverUrls.databaseUrl;
  stores.push({
    name: 'postgres',
    config: () => ({ databaseUrl, schema: uniqueName('m') }),
    cleanup: (config) => dropSchema(databaseUrl, config.schema!),
  });
}

describe.each(stores)('migrations on $name', ({ config: makeConfig, cleanup }) => {
  it('creates the tables once, records each migration, and keeps data across restarts', async () => {
    const config = makeConfig();
    try {
      const first = await openStore(config);
      const recorded = await sql<{ id: number }>`select id from vk_pay_migrations order by id`.execute(
        first.db,
      );
      expect(recorded.rows.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));
      expect(await migrate(first.db)).toEqual([]);
      await first.db
        .insertInto('payment_orders')
        .values({
          merchant_id: 'm',
          out_trade_no: 'KEEP000001',
          provider: 'wxpay',
          scene: 'native',
          type: 'goods',
          subject: 'kept',
          total_fee: 1,
          status: 'NOTPAY',
          user_id: null,
          openid: null,
          mch_id: null,
          app_id: null,
          transaction_id: null,
          client_ip: null,
        })
        .execute();
      await first.close();

      const second = await openStore(config);
      const kept = await second.db.selectFrom('payment_orders').select('out_trade_no').execute();
      expect(kept).toEqual([{ out_trade_no: 'KEEP000001' }]);
      await second.close();
    } finally {
      await cleanup(config);
    }
  });

  it('gives journal rows from before migration 17 their kind and merchant from what they hold', async () => {
    const config = makeConfig();
    const store = await openStore(config);
    try {
      const { db } = store;
      // The journal as it was before 17: no kind, no merchant on errors and callbacks.
      for (const statement of [
        'alter table payment_logs drop column subject_kind',
        'alter table payment_errors drop column subject_kind',
        'alter table payment_errors drop column merchant_id',
        'alter table payment_notify_events drop column subject_kind',
        'alter table payment_notify_events drop column merchant_id',
        'delete from vk_pay_migrations where id = 17',
      ])
        await sql.raw(statement).execute(db);
      const orders: Array<[string, string]> = [
        ['m1', 'N1'],
        ['m2', 'N1'],
        ['m1', 'T1'],
        ['m1', 'P1'],
      ];
      for (const [merchant, no] of orders)
        await sql`insert into payment_orders (merchant_id, out_trade_no, provider, scene, type, subject, total_fee, status)
          values (${merchant}, ${no}, 'wxpay', 'native', 'goods', 'x', 100, 'NOTPAY')`.execute(db);
      for (const [no, provider] of [
        ['T1', 'wxpay'],
        ['Q1', 'alipay'],
      ])
        await sql`insert into payment_transfers (merchant_id, out_transfer_no, provider, amount, remark, payee_type,
            payee_identity_sealed, status, requested_by, limit_date)
          values ('m1', ${no}, ${provider}, 100, 'r', 'OPENID', '{}'::jsonb, 'FAILED', 'a', '2026-01-01')`.execute(
          db,
        );
      const at = (ms: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + ms);
      const logs: Array<[string, string, string, string, number]> = [
        ['create', 'SUCCESS', 'P1', 'wxpay', 0],
        ['create', 'SUCCESS', 'N1', 'wxpay', 0],
        ['transfer', 'ERROR', 'T1', 'wxpay', 1],
        ['query', 'ERROR', 'T1', 'wxpay', 3],
        ['transfer_query', 'SUCCESS', 'Q1', 'alipay', 0],
      ];
      for (const [type, status, no, provider, ms] of logs)
        await sql`insert into payment_logs (type, status, out_trade_no, provider, create_date)
          values (${type}, ${status}, ${no}, ${provider}, ${at(ms)})`.execute(db);
      const errors: Array<[string, string, number]> = [
        ['T1', 'wxpay', 0],
        ['T1', 'wxpay', 2],
        ['Q1', 'alipay', 0],
        ['P1', 'wxpay', 0],
        ['N1', 'wxpay', 0],
      ];
      for (const [no, provider, ms] of errors)
        await sql`insert into payment_errors (code, message, action, out_trade_no, provider, create_date)
          values (50000, ${`${no}@${ms}`}, 'a', ${no}, ${provider}, ${at(ms)})`.execute(db);
      for (const [id, no, result] of [
        ['e1', 'T1', 'transfer_success'],
        ['e2', 'N1', 'applied'],
        ['e3', 'T1', 'applied'],
      ])
        await sql`insert into payment_notify_events (provider, event_id, out_trade_no, payload, result)
          values ('wxpay', ${id}, ${no}, '{}'::jsonb, ${result})`.execute(db);

      expect(await migrate(db)).toEqual([17]);
      const read = async (table: 'payment_logs' | 'payment_errors' | 'payment_notify_events') =>
        (
          await sql<{ no: string; kind: string; merchant: string | null }>`
            select out_trade_no as no, subject_kind as kind, merchant_id as merchant
            from ${sql.table(table)} order by id`.execute(db)
        ).rows.map((row) => `${row.no}:${row.kind}:${row.merchant}`);
      expect(await read('payment_logs')).toEqual([
        'P1:payment:m1',
        'N1:payment:null',
        'T1:transfer:m1',
        'T1:payment:m1',
        'Q1:transfer:m1',
      ]);
      // An error row is a transfer's when only a transfer has the number, or when the failed log row
      // written with it is a transfer's.
      expect(await read('payment_errors')).toEqual([
        'T1:transfer:m1',
        'T1:payment:m1',
        'Q1:transfer:m1',
        'P1:payment:m1',
        'N1:payment:null',
      ]);
      expect(await read('payment_notify_events')).toEqual([
        'T1:transfer:m1',
        'N1:payment:null',
        'T1:payment:m1',
      ]);
    } finally {
      await store.close();
      await cleanup(config);
    }
  });

  it('enforces the money invariants in the schema itself', async () => {
    const config = makeConfig();
    const store = await openStore(config);
    try {
      const insert = (fee: number, refunded: number) =>
        sql`insert into payment_orders (merchant_id, out_trade_no, provider, scene, type, subject, total_fee, refunded_fee, status)
            values ('m', ${`N${fee}-${refunded}xx`}, 'wxpay', 'native', 'goods', 'x', ${fee}, ${refunded}, 'SUCCESS')`.execute(
          store.db,
        );
      await expect(insert(0, 0)).rejects.toThrow();
      await expect(insert(100, 101)).rejects.toThrow();
      await expect(insert(100, -1)).rejects.toThrow();
      await insert(100, 100);
      await expect(insert(100, 100)).rejects.toThrow(); // unique merchant + out_trade_no
    } finally {
      await store.close();
      await cleanup(config);
    }
  });
});

describe('migrations when instances start together', () => {
  it.skipIf(!serverUrls.databaseUrl)('apply once however many instances race', async () => {
    const schema = uniqueName('race');
    const config = { databaseUrl: serverUrls.databaseUrl!, schema };
    try {
      const stores = await Promise.all(Array.from({ length: 5 }, () => openStore(config)));
      const recorded = await sql<{ n: number }>`select count(*)::int as n from vk_pay_migrations`.execute(
        stores[0]!.db,
      );
      expect(recorded.rows[0]!.n).toBe(MIGRATIONS.length);
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await dropSchema(serverUrls.databaseUrl!, schema);
    }
  });
});
