/**
 * The clock, randomness and time scale the Alipay emulator runs on. All three are injectable so
 * tests can pin timestamps and identifiers; nothing else in the emulator reads Date.now or random*.
 */
import { randomBytes } from 'node:crypto';

export interface SandboxClock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Returns `size` random bytes. */
export type RandomSource = (size: number) => Buffer;

export interface AlipayRuntime {
  clock: SandboxClock;
  random: RandomSource;
  /** Multiplies every gateway delay (notification retries); 1 is real time, 0.001 suits tests. */
  timeFactor: number;
}

export function createRuntime(options: Partial<AlipayRuntime> = {}): AlipayRuntime {
  return {
    clock: options.clock ?? { now: () => Date.now() },
    random: options.random ?? ((size) => randomBytes(size)),
    timeFactor: options.timeFactor ?? 1,
  };
}

export function randomDigits(random: RandomSource, length: number): string {
  const bytes = random(length);
  let text = '';
  for (let i = 0; i < length; i++) text += String((bytes[i] ?? 0) % 10);
  return text;
}

const LOWER_ALPHANUMERIC = '0123456789abcdefghijklmnopqrstuvwxyz';

export function randomToken(random: RandomSource, length: number): string {
  const bytes = random(length);
  let text = '';
  for (let i = 0; i < length; i++) text += LOWER_ALPHANUMERIC[(bytes[i] ?? 0) % LOWER_ALPHANUMERIC.length];
  return text;
}

/** Alipay v2 writes times as `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8, no daylight saving). */
export function beijingTime(epochMs: number): string {
  return new Date(epochMs + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** Trade numbers start with the Beijing date, as Alipay's 28-digit trade_no does. */
export function tradeNumber(epochMs: number, random: RandomSource): string {
  return `${beijingTime(epochMs).slice(0, 10).replace(/-/g, '')}22001${randomDigits(random, 15)}`;
}
