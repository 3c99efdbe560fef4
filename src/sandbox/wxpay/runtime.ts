/**
 * The clock and the randomness the emulator runs on. Both are injectable so that tests can pin
 * timestamps, expiry and identifiers; nothing else in the emulator reads Date.now or crypto.random*.
 * `clock` is gateway time (trades, refunds, expiry, bills); `clock.wall` stamps and checks
 * signatures (shared/clock.ts).
 */
import { randomBytes } from 'node:crypto';
import { GatewayClock, type SandboxClock, systemClock } from '../shared/clock.ts';

export type { SandboxClock } from '../shared/clock.ts';

/** Returns `size` random bytes. */
export type RandomSource = (size: number) => Buffer;

export interface SandboxRuntime {
  clock: GatewayClock;
  random: RandomSource;
  /** Multiplies every gateway delay (notification retries, auto refunds); 1 is real time. */
  timeFactor: number;
}

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomAlphanumeric(random: RandomSource, length: number): string {
  const bytes = random(length);
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHANUMERIC[(bytes[i] ?? 0) % ALPHANUMERIC.length];
  return text;
}

export function randomDigits(random: RandomSource, length: number): string {
  const bytes = random(length);
  let text = '';
  for (let i = 0; i < length; i++) text += String((bytes[i] ?? 0) % 10);
  return text;
}

export function randomHexUpper(random: RandomSource, length: number): string {
  return random(Math.ceil(length / 2))
    .toString('hex')
    .slice(0, length)
    .toUpperCase();
}

export interface RuntimeOptions {
  /** Wall time; gateway time starts equal to it. */
  clock?: SandboxClock;
  random?: RandomSource;
  timeFactor?: number;
}

export function createRuntime(options: RuntimeOptions = {}): SandboxRuntime {
  return {
    clock: new GatewayClock(options.clock ?? systemClock),
    random: options.random ?? ((size) => randomBytes(size)),
    timeFactor: options.timeFactor ?? 1,
  };
}

/** WeChat writes times as RFC 3339 in China time, e.g. 2018-06-08T10:34:56+08:00. */
export function formatChinaTime(epochMs: number): string {
  const shifted = new Date(epochMs + 8 * 3600_000);
  return `${shifted.toISOString().slice(0, 19)}+08:00`;
}

/** The compact yyyyMMddHHmmss China time that WeChat embeds in its identifiers. */
export function compactChinaTime(epochMs: number): string {
  return formatChinaTime(epochMs).slice(0, 19).replace(/[-T:]/g, '');
}

export function unixSeconds(epochMs: number): number {
  return Math.floor(epochMs / 1000);
}
