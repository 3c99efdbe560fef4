import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initDataDir, openPgliteDatabase } from '../../src/store/pglite-open.ts';

describe('the embedded PGlite', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('initialises a new data folder in a child process, then opens it with small buffers', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'vkpay-pglite-')), 'data');
    dirs.push(dir);
    await initDataDir(dir);
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);

    const db = await openPgliteDatabase(dir);
    try {
      expect((await db.query<{ shared_buffers: string }>('show shared_buffers')).rows).toEqual([
        { shared_buffers: '32MB' },
      ]);
      await db.exec('create table kept (id int primary key); insert into kept values (7)');
    } finally {
      await db.close();
    }
    // A folder that already holds a database is opened as it is, its data kept.
    await initDataDir(dir);
    const reopened = await openPgliteDatabase(dir);
    try {
      expect((await reopened.query('select id from kept')).rows).toEqual([{ id: 7 }]);
    } finally {
      await reopened.close();
    }
  });

  it('keeps an in-memory database in the process, with the same settings', async () => {
    const db = await openPgliteDatabase('memory');
    try {
      expect(
        (await db.query<{ s: string }>('select current_setting($1) as s', ['shared_buffers'])).rows,
      ).toEqual([{ s: '32MB' }]);
    } finally {
      await db.close();
    }
  });
});
