/**
 * Timers in gateway time, shared by the emulators: a 15 s delay at timeFactor 0.001 fires after
 * 15 ms, Alipay's 4-minute retry after 240 ms. Every timer is tracked so that closing an emulator
 * leaves nothing running.
 */
export class GatewayScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly intervals = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly timeFactor: number) {}

  /** Runs `task` after `gatewayMs` gateway milliseconds (real ms = gatewayMs * timeFactor). */
  after(gatewayMs: number, task: () => void): void {
    this.afterRealMs(Math.max(0, gatewayMs * this.timeFactor), task);
  }

  /** For delays a test states in wall-clock ms (fault delays), not in gateway time. */
  afterRealMs(realMs: number, task: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, realMs);
    this.timers.add(timer);
  }

  /** Runs `task` every `realMs` until the gateway stops; it does not keep the process alive. */
  every(realMs: number, task: () => void): void {
    if (this.stopped) return;
    const timer = setInterval(task, realMs);
    timer.unref();
    this.intervals.add(timer);
  }

  /** Resolves after `realMs` unless the gateway stops first, in which case it never resolves. */
  sleepRealMs(realMs: number): Promise<void> {
    return new Promise((resolve) => this.afterRealMs(realMs, resolve));
  }

  get pending(): number {
    return this.timers.size;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const timer of this.intervals) clearInterval(timer);
    this.intervals.clear();
  }
}
