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
