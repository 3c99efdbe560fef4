/**
 * The emulators' two clocks. Wall time is the injected (or system) clock: request and response
 * signatures are stamped and checked with it, because the client lives on the same clock. Gateway
 * time is wall time moved by an offset that the control API sets: it is what trades, refunds,
 * expiry, bills and certificate switches read, so a test can make a trade on a past day or jump
 * to a certificate switch while its client keeps signing with the real time.
 */

export interface SandboxClock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: SandboxClock = { now: () => Date.now() };

export class GatewayClock implements SandboxClock {
  #offsetMs = 0;

  constructor(readonly wall: SandboxClock = systemClock) {}

  /** Gateway time: wall time plus the offset. */
  now(): number {
    return this.wall.now() + this.#offsetMs;
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Moves gateway time, by an offset from wall time (0 puts it back). */
  setOffset(offsetMs: number): void {
    this.#offsetMs = offsetMs;
  }

  /** Moves gateway time to an instant, earlier or later; wall time does not move. */
  moveTo(epochMs: number): void {
    this.#offsetMs = epochMs - this.wall.now();
  }
}

export class ClockChangeError extends Error {
  readonly statusCode = 400;
}

/**
 * Applies the body of a control API clock move: `{"at": "<RFC 3339>" | epoch ms}` moves gateway
 * time to that instant, `{"offsetMs": n}` sets the offset from wall time (0 goes back to it).
 */
export function applyClockChange(clock: GatewayClock, body: unknown): void {
  const change = (body ?? {}) as { at?: unknown; offsetMs?: unknown };
  if (change.at !== undefined) {
    const at = typeof change.at === 'number' ? change.at : Date.parse(String(change.at));
    if (!Number.isFinite(at)) throw new ClockChangeError('at must be an RFC 3339 time or epoch milliseconds');
    clock.moveTo(at);
    return;
  }
  if (typeof change.offsetMs === 'number' && Number.isFinite(change.offsetMs)) {
    clock.setOffset(change.offsetMs);
    return;
  }
  throw new ClockChangeError('give "at" (RFC 3339 or epoch ms) or "offsetMs" (a number)');
}

/** What GET and POST of the clock route answer. */
export function clockView(clock: GatewayClock): { now: string; offsetMs: number } {
  return { now: new Date(clock.now()).toISOString(), offsetMs: clock.offsetMs };
}
