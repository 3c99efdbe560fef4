/**
 * One emulated WeChat Pay gateway: its clock, merchants, trades, refunds, notifications and faults.
 * The HTTP layer (plugin.ts) and tests drive this object; it holds no sockets itself.
 */

import { GatewayScheduler } from '../shared/scheduler.ts';
import { StateFile } from '../shared/state-file.ts';
import { BillDesk } from './bills.ts';
import { FaultBook } from './faults.ts';
import { MerchantRegistry } from './merchants.ts';
import { Notifier, type NotifierOptions } from './notifier.ts';
import { PaymentCodeBook } from './payment-codes.ts';
import { ProfitSharingBook } from './profit-sharing.ts';
import { RefundBook } from './refunds.ts';
import { createRuntime, type RandomSource, type SandboxClock, type SandboxRuntime } from './runtime.ts';
import { restoreWxpayState, wxpayState } from './state.ts';
import { SubMerchantRegistry } from './sub-merchants.ts';
import { TradeBook } from './trades.ts';

export interface WxpayGatewayOptions extends NotifierOptions {
  /** Multiplies notification retry delays and automatic refund delays; e.g. 0.001 in tests. */
  timeFactor?: number;
  clock?: SandboxClock;
  random?: RandomSource;
}

export class WxpayGateway {
  readonly runtime: SandboxRuntime;
  readonly scheduler: GatewayScheduler;
  readonly merchants: MerchantRegistry;
  /** Sub-merchants authorised under service providers (partner mode). */
  readonly subMerchants: SubMerchantRegistry;
  readonly faults = new FaultBook();
  readonly notifier: Notifier;
  readonly trades: TradeBook;
  readonly refunds: RefundBook;
  readonly bills = new BillDesk();
  /** Sandbox buyers' payment codes; not kept in the state file (a code lives a minute). */
  readonly codes: PaymentCodeBook;
  /** Receivers, splits and returns (分账); in memory only. */
  readonly profitSharing: ProfitSharingBook;
  /** Requests held by a 'hang' fault; each function drops its connection. */
  private readonly hung = new Set<() => void>();
  private stateFile: StateFile | undefined;

  constructor(options: WxpayGatewayOptions = {}) {
    this.runtime = createRuntime(options);
    this.scheduler = new GatewayScheduler(this.runtime.timeFactor);
    this.merchants = new MerchantRegistry(this.runtime);
    this.codes = new PaymentCodeBook(this.runtime);
    this.subMerchants = new SubMerchantRegistry(this.merchants);
    this.notifier = new Notifier(this.runtime, this.scheduler, this.merchants, this.faults, options);
    this.trades = new TradeBook(this.runtime, (trade) => {
      this.notifier.paymentSucceeded(trade);
      this.changed();
    });
    this.refunds = new RefundBook(this.runtime, this.scheduler, this.trades, (refund) => {
      this.notifier.refundSettled(refund);
      this.changed();
    });
    this.profitSharing = new ProfitSharingBook(this);
    this.refunds.useSplitLedger(this.profitSharing);
  }

  /**
   * Keeps the gateway's state in `path` (JSON): what is there now is loaded, and the file is
   * rewritten after changes and at stop. Call it before the gateway takes requests.
   */
  async persistTo(path: string): Promise<void> {
    const saved = StateFile.read(path);
    if (saved !== undefined) await restoreWxpayState(this, saved);
    this.stateFile = new StateFile(path, () => wxpayState(this));
  }

  /** Something may have changed (the plugin calls it after every request): save soon. */
  changed(): void {
    this.stateFile?.changed();
  }

  /** Keeps a request open until the gateway stops; `drop` ends its connection without an answer. */
  holdForever(drop: () => void): Promise<never> {
    return new Promise<never>(() => {
      this.hung.add(drop);
    });
  }

  /** Stops timers (retries, auto refunds) and drops hung requests. */
  stop(): void {
    this.stateFile?.close();
    this.scheduler.stop();
    for (const drop of this.hung) drop();
    this.hung.clear();
  }
}
