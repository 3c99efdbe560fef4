/**
 * One emulated Alipay OpenAPI gateway: its test CA, apps, trades, notifications and faults, and
 * the answer to one gateway.do request. The HTTP layer (plugin.ts) and tests drive this object;
 * it holds no sockets itself.
 */

import { GatewayScheduler } from '../shared/scheduler.ts';
import { StateFile } from '../shared/state-file.ts';
import type { RegisteredApp } from './apps.ts';
import { AppRegistry } from './apps.ts';
import { AlipayBillDesk } from './bills.ts';
import { FaultBook } from './faults.ts';
import { Notifier, type NotifierOptions } from './notifier.ts';
import { AlipayPaymentCodes } from './payment-codes.ts';
import { RejectedRequest, verifyRequest } from './request-auth.ts';
import { ROYALTY_METHOD_NAMES, royaltyMethodsOf } from './royalty.ts';
import { type AlipayRuntime, createRuntime, type RandomSource, type SandboxClock } from './runtime.ts';
import { signedResponseBody, type WireParams } from './signing.ts';
import { alipayState, restoreAlipayState } from './state.ts';
import { AlipayTestCa } from './test-ca.ts';
import { type MethodResult, SUPPORTED_METHODS, TRADE_METHODS } from './trade-methods.ts';
import { type Trade, TradeBook } from './trades.ts';
import { FUND_METHOD_NAMES, fundMethodsOf } from './transfers.ts';
import { AlipayGatewayError } from './wire-errors.ts';

export interface AlipayGatewayOptions extends NotifierOptions {
  /** Multiplies notification retry gaps; e.g. 0.001 in tests. Default 1 (real time). */
  timeFactor?: number;
  clock?: SandboxClock;
  random?: RandomSource;
}

export type GatewayAnswer =
  | { kind: 'json'; body: string; app?: RegisteredApp; trade?: Trade }
  | { kind: 'cashier'; app: RegisteredApp; trade: Trade }
  | { kind: 'hang' };

export const PAGE_METHODS: ReadonlySet<string> = new Set([
  'alipay.trade.page.pay',
  'alipay.trade.wap.pay',
  'alipay.trade.app.pay',
]);

const ALL_METHODS: ReadonlySet<string> = new Set([
  ...SUPPORTED_METHODS,
  ...FUND_METHOD_NAMES,
  ...ROYALTY_METHOD_NAMES,
]);

const FAULT_ERRORS: Record<string, () => AlipayGatewayError> = {
  unknownError: () => new AlipayGatewayError('20000', 'isp.unknow-error', '系统繁忙'),
  systemError: () => new AlipayGatewayError('40004', 'ACQ.SYSTEM_ERROR', '系统错误'),
};

export class AlipayGateway {
  readonly runtime: AlipayRuntime;
  readonly scheduler: GatewayScheduler;
  readonly faults = new FaultBook();
  readonly apps: AppRegistry;
  readonly notifier: Notifier;
  readonly trades: TradeBook;
  readonly bills: AlipayBillDesk;
  /** Sandbox buyers' payment codes, for alipay.trade.pay (bar_code). */
  readonly paymentCodes: AlipayPaymentCodes;
  /** Requests held by a 'hang' fault; each function drops its connection. */
  private readonly hung = new Set<() => void>();
  private stateFile: StateFile | undefined;

  private constructor(
    readonly ca: AlipayTestCa,
    runtime: AlipayRuntime,
    options: AlipayGatewayOptions,
  ) {
    this.runtime = runtime;
    this.bills = new AlipayBillDesk(runtime.clock.wall);
    this.paymentCodes = new AlipayPaymentCodes(runtime);
    this.scheduler = new GatewayScheduler(runtime.timeFactor);
    this.apps = new AppRegistry(runtime, ca);
    this.notifier = new Notifier(runtime, this.scheduler, this.apps, this.faults, options);
    this.trades = new TradeBook(runtime, (event) => {
      this.notifier.tradeChanged(event);
      this.changed();
    });
    // Trades time out whether or not anyone looks at them; the merchant hears TRADE_CLOSED.
    this.scheduler.every(1000, () => this.trades.expireDue());
  }

  /**
   * Keeps the gateway's state in `path` (JSON): what is there now is loaded (the test CA, apps,
   * trades), and the file is rewritten after changes and at stop. Call it before the gateway takes
   * requests.
   */
  async persistTo(path: string): Promise<void> {
    const saved = StateFile.read(path);
    if (saved !== undefined) await restoreAlipayState(this, saved);
    this.stateFile = new StateFile(path, () => alipayState(this));
  }

  /** Something may have changed (the plugin calls it after every request): save soon. */
  changed(): void {
    this.stateFile?.changed();
  }

  static async create(options: AlipayGatewayOptions = {}): Promise<AlipayGateway> {
    const runtime = createRuntime(options);
    // Certificates are checked against the merchant's clock, so they are dated in wall time.
    const ca = await AlipayTestCa.create(runtime.random, () => runtime.clock.wall.now());
    return new AlipayGateway(ca, runtime, options);
  }

  /** Answers one gateway.do request whose query and form parameters are already merged. */
  async answer(params: WireParams, sandboxBaseUrl: string): Promise<GatewayAnswer> {
    let request: ReturnType<typeof verifyRequest>;
    try {
      request = verifyRequest(params, this.apps, ALL_METHODS);
    } catch (error) {
      if (!(error instanceof RejectedRequest)) throw error;
      return this.json(error.responseKey, error.error.toResponse(), error.app);
    }
    const { app, method, biz } = request;
    // Transfers (alipay.fund.trans.*) are aimed at by their out_biz_no, settles by out_request_no.
    const reference = biz.out_trade_no ?? biz.out_biz_no ?? biz.out_request_no;
    const outTradeNo = typeof reference === 'string' ? reference : undefined;
    const fault = this.faults.take('api', { appId: app.appId, outTradeNo, method })?.spec;
    if (fault?.kind === 'delay') await this.scheduler.sleepRealMs(fault.delayMs ?? 1000);

    const failure = fault ? faultError(fault.kind, fault.subCode, fault.subMsg) : undefined;
    const hangs = fault?.kind === 'hang';
    if ((failure || hangs) && !fault?.afterHandling) {
      return hangs ? { kind: 'hang' } : this.json(request.responseKey, failure!.toResponse(), app);
    }

    let result: MethodResult;
    try {
      const handler = TRADE_METHODS[method] ?? fundMethodsOf(this)[method] ?? royaltyMethodsOf(this)[method]!;
      result = handler(request, {
        trades: this.trades,
        paymentCodes: this.paymentCodes,
        bills: this.bills,
        now: this.runtime.clock.now(),
        sandboxBaseUrl,
      });
    } catch (error) {
      if (!(error instanceof AlipayGatewayError)) throw error;
      result = { kind: 'json', response: error.toResponse() };
    }
    if (hangs) return { kind: 'hang' };
    if (failure) return this.json(request.responseKey, failure.toResponse(), app);
    if (result.kind === 'cashier') return { kind: 'cashier', app, trade: result.trade };
    const tamper = {
      badSignature: fault?.kind === 'badSignature',
      ...(fault?.kind === 'wrongCertSn' ? { certSn: 'ffffffffffffffffffffffffffffffff' } : {}),
    };
    return this.json(request.responseKey, result.response, app, tamper, result.trade);
  }

  private json(
    responseKey: string,
    response: Record<string, unknown>,
    app: RegisteredApp | undefined,
    tamper?: { badSignature?: boolean; certSn?: string },
    trade?: Trade,
  ): GatewayAnswer {
    const signer = app ? this.apps.signer(app) : undefined;
    return {
      kind: 'json',
      body: signedResponseBody(responseKey, response, signer, tamper),
      ...(app ? { app } : {}),
      ...(trade ? { trade } : {}),
    };
  }

  /**
   * What the Alipay app does with an order string from alipay.trade.app.pay (sdkExecute): checks
   * its signature like a gateway request and shows the buyer the trade, which now exists.
   */
  openAppOrder(orderString: string): { app: RegisteredApp; trade: Trade } {
    const params = Object.fromEntries(new URLSearchParams(orderString.trim()));
    if (params.method !== 'alipay.trade.app.pay') {
      throw new AlipayGatewayError('40002', 'isv.invalid-method', '订单串的method应为alipay.trade.app.pay');
    }
    const request = verifyRequest(params, this.apps, SUPPORTED_METHODS);
    const result = TRADE_METHODS[request.method]!(request, {
      trades: this.trades,
      paymentCodes: this.paymentCodes,
      bills: this.bills,
      now: this.runtime.clock.now(),
      sandboxBaseUrl: '',
    });
    if (result.kind !== 'cashier') throw new Error('alipay.trade.app.pay must open the cashier');
    return { app: request.app, trade: this.trades.reveal(result.trade) };
  }

  /** Keeps a request open until the gateway stops; `drop` ends its connection without an answer. */
  holdForever(drop: () => void): void {
    this.hung.add(drop);
  }

  /** Stops timers (retries, delays) and drops hung requests. */
  stop(): void {
    this.stateFile?.close();
    this.scheduler.stop();
    for (const drop of this.hung) drop();
    this.hung.clear();
  }
}

function faultError(kind: string, subCode?: string, subMsg?: string): AlipayGatewayError | undefined {
  if (kind === 'businessError')
    return new AlipayGatewayError('40004', subCode ?? 'ACQ.SYSTEM_ERROR', subMsg ?? '业务处理失败');
  return FAULT_ERRORS[kind]?.();
}
