/**
 * An emulator's state kept in one JSON file, so that a restart does not forget the trades a service
 * still holds: read once at start, rewritten a moment after each change (changes in a burst make one
 * write) and at stop. A write goes to a temporary file renamed over the old one, so a crash leaves
 * the previous state or the new one, never half of either. The file holds the emulator's test keys,
 * so only the owner may read it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class StateFile {
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly path: string,
    private readonly snapshot: () => unknown,
    private readonly debounceMs = 200,
  ) {}

  /** The saved state, or undefined when there is no file yet; a file that is not JSON throws. */
  static read(path: string): unknown {
    if (!existsSync(path)) return undefined;
    try {
      return JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`sandbox state ${path} cannot be read: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Schedules a write; the process does not wait for it (flush does). */
  changed(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => this.flush(), this.debounceMs);
    this.#timer.unref();
  }

  /** The last write: a stopped emulator must not overwrite the file a new one now keeps. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
  }

  /** Writes now, atomically: a temporary file in the same folder, then a rename. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(this.snapshot())}\n`, { mode: 0o600 });
    renameSync(temporary, this.path);
  }
}
