/**
 * Opens PGlite for the embedded store with a small memory footprint. PostgreSQL's initdb, run
 * inside the WASM heap, grows the process by several hundred MB that it never gives back; a new
 * data folder is therefore initialised by a short-lived child process, and the service opens the
 * finished folder. Shared buffers are 32 MB instead of 128 MB: one merchant's working set fits,
 * and the WASM heap (which never shrinks) stays small.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';

const SETTINGS = ['-c', 'shared_buffers=32MB', '-c', 'wal_buffers=1MB', '-c', 'temp_buffers=2MB'];
const START_PARAMS = [...PGlite.defaultStartParams, ...SETTINGS];

const INIT_SCRIPT = `
const { PGlite } = await import(process.env.PGLITE_MODULE);
const db = await PGlite.create({ dataDir: process.env.PGLITE_DATA_DIR });
await db.close();
`;

/** Runs initdb for `dataDir` in a child process, unless the folder already holds a database. */
export async function initDataDir(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  mkdirSync(dataDir, { recursive: true });
  const module = pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite')).href;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', INIT_SCRIPT], {
    env: { ...process.env, PGLITE_MODULE: module, PGLITE_DATA_DIR: dataDir },
    timeout: 120_000,
  });
}

/** A PGlite on `dataDir`, or in memory for 'memory' (initialised in-process: nothing to hand over). */
export async function openPgliteDatabase(dataDir: string): Promise<PGlite> {
  if (dataDir === 'memory') return PGlite.create({ startParams: START_PARAMS });
  await initDataDir(dataDir);
  return PGlite.create({ dataDir, startParams: START_PARAMS });
}
