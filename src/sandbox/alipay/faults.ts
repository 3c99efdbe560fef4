/**
 * Fault injection, consumable so tests stay deterministic: a fault matches requests (channel
 * 'api') or notification sends (channel 'notify') by app, order and method, and is used up after
 * `times` matches.
 */

/**
 * unknownError: 20000 isp.unknow-error. systemError: 40004 ACQ.SYSTEM_ERROR. businessError: 40004
 * with the given subCode. delay: answer after delayMs. hang: never answer. badSignature: a response
 * signature that does not verify. wrongCertSn: an alipay_cert_sn the client does not know.
 */
export const API_FAULT_KINDS = [
  'unknownError',
  'systemError',
  'businessError',
  'delay',
  'hang',
  'badSignature',
  'wrongCertSn',
] as const;
/** drop: this send is lost (retried later). duplicate: sent twice. delay: sent delayMs late.
 * reorder: held until the next notification of the app has gone out. badSignature: signed wrong. */
export const NOTIFY_FAULT_KINDS = ['drop', 'duplicate', 'delay', 'reorder', 'badSignature'] as const;

export type ApiFaultKind = (typeof API_FAULT_KINDS)[number];
export type NotifyFaultKind = (typeof NOTIFY_FAULT_KINDS)[number];

/** Body of POST /sandbox/alipay/faults. */
export interface FaultSpec {
  /** 'api' (default) for gateway.do responses, 'notify' for notifications. */
  channel?: 'api' | 'notify';
  kind: ApiFaultKind | NotifyFaultKind;
  appId?: string;
  outTradeNo?: string;
  /** API faults only: one method, e.g. alipay.trade.query. */
  method?: string;
  /** Notification faults only: one trade_status, e.g. TRADE_SUCCESS. */
  tradeStatus?: string;
  /** How many matches use it up; 'always' never runs out. Default 1. */
  times?: number | 'always';
  /** Real milliseconds for 'delay', and the longest hold for 'reorder'. Default 1000. */
  delayMs?: number;
  /** businessError only. */
  subCode?: string;
  subMsg?: string;
  /**
   * unknownError, systemError, businessError and hang only: handle the request first, then fail. The state changes
   * but the client never learns it, which is what a timeout on a write call means.
   */
  afterHandling?: boolean;
}

export interface Fault {
  id: string;
  spec: FaultSpec & { channel: 'api' | 'notify' };
  remaining: number;
  used: number;
}

export interface FaultTarget {
  appId: string;
  outTradeNo?: string | undefined;
  method?: string;
  tradeStatus?: string;
}

export class FaultSpecError extends Error {}

export class FaultBook {
  private faults: Fault[] = [];
  private sequence = 0;

  add(spec: FaultSpec): Fault {
    const channel = spec.channel ?? 'api';
    if (channel !== 'api' && channel !== 'notify') throw new FaultSpecError('channel must be api or notify');
    const kinds: readonly string[] = channel === 'api' ? API_FAULT_KINDS : NOTIFY_FAULT_KINDS;
    if (!kinds.includes(spec.kind)) throw new FaultSpecError(`kind must be one of ${kinds.join('|')}`);
    if (spec.kind === 'businessError' && !spec.subCode)
      throw new FaultSpecError('businessError needs subCode');
    const times = spec.times ?? 1;
    if (times !== 'always' && !(Number.isSafeInteger(times) && times >= 1)) {
      throw new FaultSpecError('times must be a positive integer or always');
    }
    if (spec.delayMs !== undefined && !(Number.isFinite(spec.delayMs) && spec.delayMs >= 0)) {
      throw new FaultSpecError('delayMs must be a non-negative number');
    }
    const fault: Fault = {
      id: `fault-${++this.sequence}`,
      spec: { ...spec, channel },
      remaining: times === 'always' ? Number.POSITIVE_INFINITY : times,
      used: 0,
    };
    this.faults.push(fault);
    return fault;
  }

  list(): Fault[] {
    return [...this.faults];
  }

  /** Removes one fault, or all of them when no id is given; returns how many went. */
  clear(id?: string): number {
    const before = this.faults.length;
    this.faults = id === undefined ? [] : this.faults.filter((fault) => fault.id !== id);
    return before - this.faults.length;
  }

  /** Consumes and returns the oldest matching fault of the channel. */
  take(channel: 'api' | 'notify', target: FaultTarget): Fault | undefined {
    const fault = this.faults.find(
      (candidate) => candidate.spec.channel === channel && matches(candidate.spec, target),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    fault.used += 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    return fault;
  }
}

function matches(spec: FaultSpec, target: FaultTarget): boolean {
  if (spec.appId !== undefined && spec.appId !== target.appId) return false;
  if (spec.outTradeNo !== undefined && spec.outTradeNo !== target.outTradeNo) return false;
  if (spec.method !== undefined && spec.method !== target.method) return false;
  if (spec.tradeStatus !== undefined && spec.tradeStatus !== target.tradeStatus) return false;
  return true;
}

export function faultView(fault: Fault): Record<string, unknown> {
  return {
    id: fault.id,
    ...fault.spec,
    remaining: Number.isFinite(fault.remaining) ? fault.remaining : 'always',
    used: fault.used,
  };
}
