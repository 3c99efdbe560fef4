/**
 * The clock, randomness and time scale the Alipay emulator runs on. All three are injectable so
 * tests can pin timestamps and identifiers; nothing else in the emulator reads Date.now or random*.
 * `clock` is gateway time (trades, expiry, bills); `clock.wall` is what the merchant's own clock
 * reads: notify_time, return_url timestamps, certificate validity and download links use it
 * (shared/clock.ts).
 */
import { randomBytes } from 'node:crypto';
import { GatewayClock, type SandboxClock, systemClock } from '../shared/clock.ts';

export type { SandboxClock } from '../shared/clock.ts';

/** Returns `size` random bytes. */
export type RandomSource = (size: number) => Buffer;

export interface AlipayRuntime {
  clock: GatewayClock;
  random: RandomSource;
  /** Multiplies every gateway delay (notification retries); 1 is real time, 0.001 suits tests. */
  timeFactor: number;
}

export interface RuntimeOptions {
  /** Wall time; gateway time starts equal to it. */
  clock?: SandboxClock;
  random?: RandomSource;
  timeFactor?: number;
}

export function createRuntime(options: RuntimeOptions = {}): AlipayRuntime {
  return {
    clock: new GatewayClock(options.clock ?? systemClock),
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
