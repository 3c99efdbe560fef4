/**
 * Timers in gateway time: a delay of 15 s at timeFactor 0.001 fires after 15 ms. Every timer is
 * tracked so that closing the emulator leaves nothing running.
 */
export class GatewayScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly timeFactor: number) {}

  /** Runs `task` after `gatewayMs` gateway milliseconds (real ms = gatewayMs * timeFactor). */
  after(gatewayMs: number, task: () => void): void {
    this.afterRealMs(Math.max(0, gatewayMs * this.timeFactor), task);
  }

  /** For delays that a test states in wall-clock ms (fault delays), not in gateway time. */
  afterRealMs(realMs: number, task: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, realMs);
    this.timers.add(timer);
  }

  get pending(): number {
    return this.timers.size;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
