/**
 * A PostgreSQL connection killed while the service holds it (a transaction between two statements,
 * as pg_terminate_backend or a server restart does) fails that transaction, never the process, and
 * the store keeps working on new connections. Runs only with VKPAY_TEST_DATABASE_URL.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, openStore, type Store } from '../../src/store/db.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';

describe.skipIf(!serverUrls.databaseUrl)('a PostgreSQL connection killed while in use', () => {
  const schema = uniqueName('lost');
  let store: Store;

  beforeAll(async () => {
    store = await openStore({ databaseUrl: serverUrls.databaseUrl!, schema });
  });
  afterAll(async () => {
    await store?.close();
    await dropSchema(serverUrls.databaseUrl!, schema);
  });

  it('fails the transaction holding it and leaves the process and the pool working', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = await store.db
        .transaction()
        .execute(async (tx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
          const admin = new pg.Client({ connectionString: serverUrls.databaseUrl });
          await admin.connect();
          await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
          await admin.end();
          // The server's goodbye arrives while nothing runs on the connection.
          await new Promise((resolve) => setTimeout(resolve, 300));
          await sql`select 1`.execute(tx);
          return 'committed';
        })
        .catch((error: Error) => `failed: ${error.message}`);
      expect(outcome).toMatch(/^failed: /);
      expect(uncaught).toEqual([]);
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(store.db);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
