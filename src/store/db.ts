/**
 * Opens the payment store: PGlite in-process (the embedded default) or a PostgreSQL server through a
 * `pg` pool. Both run the same SQL and the same migrations.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { lockDataDir } from './data-lock.ts';
import { migrate } from './migrations.ts';
import { PgliteDialect } from './pglite-dialect.ts';
import { openPgliteDatabase } from './pglite-open.ts';
import type { Database } from './schema.ts';

export interface PoolConfig {
  /** Most connections open at once. */
  max: number;
  /** How long a query waits for a free connection before failing. */
  acquireTimeoutMs: number;
  /** How long an unused connection stays open. */
  idleTimeoutMs: number;
}

export interface StoreConfig {
  /** A PostgreSQL server URL. Without it, PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite's data folder, or 'memory' for a database that lives only as long as the process. */
  dataDir?: string | undefined;
  pool?: Partial<PoolConfig> | undefined;
  /** A PostgreSQL schema to work in (tests use one each); created if missing. */
  schema?: string | undefined;
}

export const DEFAULT_POOL: PoolConfig = { max: 10, acquireTimeoutMs: 30_000, idleTimeoutMs: 60_000 };

export type Backend = 'pglite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  backend: Backend;
  /** Where the data lives, without credentials: the PGlite folder or the server's host and database. */
  location: string;
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openStore(config: StoreConfig = {}): Promise<Store> {
  if (config.schema !== undefined && !SCHEMA_NAME.test(config.schema)) {
    throw new Error(`invalid schema name: ${config.schema}`);
  }
  const store = config.databaseUrl
    ? await openPostgres(config, config.databaseUrl)
    : await openPglite(config);
  try {
    await migrate(store.db);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

async function openPglite(config: StoreConfig): Promise<Store> {
  const dataDir = config.dataDir ?? './data';
  // Taken before the folder is created or opened; the child process that creates it runs under it.
  const lock = dataDir === 'memory' ? null : lockDataDir(dataDir);
  let db: Kysely<Database>;
  try {
    const pglite = await openPgliteDatabase(dataDir);
    if (config.schema) {
      await pglite.exec(`create schema if not exists ${config.schema}; set search_path to ${config.schema}`);
    }
    db = new Kysely<Database>({ dialect: new PgliteDialect(pglite) });
  } catch (error) {
    lock?.release();
    throw error;
  }
  return {
    db,
    backend: 'pglite',
    location: dataDir,
    async close() {
      try {
        await db.destroy();
      } finally {
        lock?.release();
      }
    },
  };
}

async function openPostgres(config: StoreConfig, databaseUrl: string): Promise<Store> {
  const poolConfig = { ...DEFAULT_POOL, ...config.pool };
  const url = new URL(databaseUrl);
  if (config.schema) {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      // CREATE SCHEMA IF NOT EXISTS still races between sessions; serialise it like the migrations.
      await admin.query('begin');
      await admin.query('select pg_advisory_xact_lock(7310424002)');
      await admin.query(`create schema if not exists ${config.schema}`);
      await admin.query('commit');
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: poolConfig.max,
    connectionTimeoutMillis: poolConfig.acquireTimeoutMs,
    idleTimeoutMillis: poolConfig.idleTimeoutMs,
    types: { getTypeParser: int8AsNumber },
    ...(config.schema ? { options: `-c search_path=${config.schema}` } : {}),
  });
  // An idle client's network error must not crash the process; the pool replaces it. A client in
  // use (a transaction between two statements) has no pool listener: its connection killed or the
  // server restarted there would be an unhandled 'error' event, ending the process. Its next query
  // fails instead, and the pool drops it when it comes back.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    backend: 'postgres',
    location: `${url.hostname}:${url.port || 5432}${url.pathname}`,
    close: () => db.destroy(),
  };
}

const INT8_OID = 20;

/** Ids and counts are int8 on the wire; every value VK-Pay keeps fits a JS number, as PGlite returns it. */
function int8AsNumber(oid: number, format?: 'text' | 'binary') {
  if (oid === INT8_OID) return (value: string) => Number(value);
  // biome-ignore lint/suspicious/noExplicitAny: pg's overloads do not accept a union format.
  return pg.types.getTypeParser(oid, format as any);
}

/** Drops a schema made for a test run. */
export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await admin.end();
  }
}
