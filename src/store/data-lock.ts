/**
 * The embedded data folder belongs to one process: PGlite has no locking of its own, and two
 * processes writing one folder lose each other's data. The holder keeps `vk-pay.lock` in the folder,
 * created exclusively, naming its pid, host and start time, and touches it every 10 s. A lock whose
 * holder is gone (a dead pid on this host, or no touch for 30 s from another host) is taken over.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'vk-pay.lock';
const TOUCH_INTERVAL_MS = 10_000;
const STALE_AFTER_MS = 30_000;

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder | null,
  ) {
    const who = holder
      ? `process ${holder.pid} on ${holder.host} (since ${holder.startedAt})`
      : 'another process (its lock file is being written)';
    super(
      `the data folder ${dataDir} is in use by ${who}: one process at a time may open it. Stop that process first; if it is gone, delete ${join(dataDir, LOCK_FILE)}`,
    );
  }
}

export interface DataLock {
  readonly path: string;
  release(): void;
}

/** Whether a process with this pid runs on this machine (EPERM: it runs as another user). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): { holder: LockHolder | null; text: string; touchedAt: number } | null {
  try {
    const text = readFileSync(path, 'utf8');
    const touchedAt = statSync(path).mtimeMs;
    try {
      const parsed = JSON.parse(text) as LockHolder;
      const holder = Number.isInteger(parsed.pid) && typeof parsed.host === 'string' ? parsed : null;
      return { holder, text, touchedAt };
    } catch {
      return { holder: null, text, touchedAt };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Lock files this process holds: one naming our pid and host but not listed is a former life's. */
const heldHere = new Set<string>();

function isStale(
  path: string,
  found: { holder: LockHolder | null; touchedAt: number },
  now: number,
): boolean {
  const holder = found.holder;
  if (holder && holder.host === hostname()) {
    return holder.pid === process.pid ? !heldHere.has(resolve(path)) : !pidAlive(holder.pid);
  }
  return now - found.touchedAt > STALE_AFTER_MS;
}

/**
 * Takes the folder's lock or throws DataDirInUseError naming the holder. Released by `release()`,
 * and at the latest when the process exits.
 */
export function lockDataDir(dataDir: string): DataLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  const content = JSON.stringify(holder);
  // Two tries: the second after a stale lock was removed.
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const found = readHolder(path);
      if (found && !isStale(path, found, Date.now())) throw new DataDirInUseError(dataDir, found.holder);
      if (found) removeStale(dataDir, path, found.text);
      continue;
    }
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    return holdLock(path, content);
  }
  throw new DataDirInUseError(dataDir, readHolder(path)?.holder ?? null);
}

/**
 * Removes a stale lock, under a second exclusive file so that two processes taking over at once
 * cannot remove each other's fresh lock: the content is read again under it and must be unchanged.
 */
function removeStale(dataDir: string, path: string, staleText: string): void {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A takeover left behind by a process that died in it is old; a live one takes milliseconds.
    const left = statSync(guard, { throwIfNoEntry: false });
    if (left && Date.now() - left.mtimeMs > STALE_AFTER_MS) unlinkSync(guard);
    throw new DataDirInUseError(dataDir, readHolder(path)?.holder ?? null);
  }
  try {
    const again = readHolder(path);
    if (again && again.text === staleText) unlinkSync(path);
  } finally {
    closeSync(fd);
    unlinkSync(guard);
  }
}

function holdLock(path: string, content: string): DataLock {
  let held = true;
  heldHere.add(resolve(path));
  const touch = setInterval(() => {
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      // The file is checked again at release; a missed touch only makes it look older to other hosts.
    }
  }, TOUCH_INTERVAL_MS);
  touch.unref();
  const release = () => {
    if (!held) return;
    held = false;
    heldHere.delete(resolve(path));
    clearInterval(touch);
    process.off('exit', release);
    // Only our own lock is removed: never one another process took over meanwhile.
    if (readHolder(path)?.text === content) unlinkSync(path);
  };
  process.on('exit', release);
  return { path, release };
}
