/**
 * Fault injection, consumable so tests stay deterministic: each fault matches requests or
 * notifications by merchant, order and operation, and is used up after `times` matches.
 */
import { SIGNATURE_FAULT_KINDS } from './gateway-signature.ts';
import { invalidField, missingField } from './wire-errors.ts';

export type ApiOperation =
  | 'prepay'
  | 'query'
  | 'close'
  | 'refund'
  | 'refundQuery'
  | 'abnormalRefund'
  | 'bill'
  | 'certificates'
  | 'transfer'
  | 'transferQuery'
  | 'transferCancel'
  | 'codepay'
  | 'reverse'
  | 'profitSharingReceivers'
  | 'profitSharing'
  | 'profitSharingQuery'
  | 'profitSharingUnfreeze'
  | 'profitSharingAmounts'
  | 'profitSharingReturn'
  | 'profitSharingReturnQuery';
export const API_OPERATIONS: readonly ApiOperation[] = [
  'prepay',
  'query',
  'close',
  'refund',
  'refundQuery',
  'abnormalRefund',
  'bill',
  'certificates',
  'transfer',
  'transferQuery',
  'transferCancel',
  'codepay',
  'reverse',
  'profitSharingReceivers',
  'profitSharing',
  'profitSharingQuery',
  'profitSharingUnfreeze',
  'profitSharingAmounts',
  'profitSharingReturn',
  'profitSharingReturnQuery',
];

/** Faults on API calls: error statuses, a short balance, a delay, a response that never comes, or a bad signature. */
export const API_FAULT_KINDS = [
  'frequencyLimited',
  // The merchant's balance cannot cover a refund: 403 NOT_ENOUGH, nothing refunded (aim it with
  // operation 'refund'; a later request with the same out_refund_no goes through).
  'notEnough',
  'systemError',
  'badGateway',
  'delay',
  'hang',
  ...SIGNATURE_FAULT_KINDS,
] as const;
/** Faults on notifications: lost, sent twice, late, overtaken by the next one, or badly signed. */
export const NOTIFY_FAULT_KINDS = [
  'drop',
  'duplicate',
  'delay',
  'reorder',
  ...SIGNATURE_FAULT_KINDS,
] as const;

export type ApiFaultKind = (typeof API_FAULT_KINDS)[number];
export type NotifyFaultKind = (typeof NOTIFY_FAULT_KINDS)[number];

export interface FaultSpec {
  /** 'api' (default) for responses, 'notify' for notifications. */
  channel?: 'api' | 'notify';
  kind: ApiFaultKind | NotifyFaultKind;
  mchid?: string;
  outTradeNo?: string;
  /** API faults only: restrict to one operation. */
  operation?: ApiOperation;
  /** Notification faults only: restrict to one event type, e.g. REFUND.SUCCESS. */
  eventType?: string;
  /** How many matches consume the fault; 'always' never runs out. Default 1. */
  times?: number | 'always';
  /** Real milliseconds for 'delay' (API and notify) and the longest hold for 'reorder'. */
  delayMs?: number;
  /**
   * API error and hang faults only: handle the request first, then fail. The state changes but the
   * client never learns it, which is what a timeout on a write call means.
   */
  afterHandling?: boolean;
}

export interface Fault extends Required<Pick<FaultSpec, 'channel' | 'kind'>> {
  id: string;
  spec: FaultSpec;
  remaining: number;
  used: number;
}

export interface FaultTarget {
  mchid: string;
  outTradeNo?: string | undefined;
  operation?: ApiOperation;
  eventType?: string;
}

export class FaultBook {
  private faults: Fault[] = [];
  private sequence = 0;

  add(spec: FaultSpec): Fault {
    const channel = spec.channel ?? 'api';
    if (channel !== 'api' && channel !== 'notify')
      throw invalidField('channel', channel, '取值应为api或notify');
    if (!spec.kind) throw missingField('kind');
    const kinds: readonly string[] = channel === 'api' ? API_FAULT_KINDS : NOTIFY_FAULT_KINDS;
    if (!kinds.includes(spec.kind)) throw invalidField('kind', spec.kind, `取值应为${kinds.join('|')}`);
    if (spec.operation !== undefined && !API_OPERATIONS.includes(spec.operation)) {
      throw invalidField('operation', spec.operation, `取值应为${API_OPERATIONS.join('|')}`);
    }
    const times = spec.times ?? 1;
    if (times !== 'always' && !(Number.isSafeInteger(times) && times >= 1)) {
      throw invalidField('times', times, '应为正整数或always');
    }
    if (spec.delayMs !== undefined && !(Number.isFinite(spec.delayMs) && spec.delayMs >= 0)) {
      throw invalidField('delayMs', spec.delayMs, '应为非负数');
    }
    const fault: Fault = {
      id: `fault-${++this.sequence}`,
      channel,
      kind: spec.kind,
      spec: { ...spec, channel },
      remaining: times === 'always' ? Number.POSITIVE_INFINITY : times,
      used: 0,
    };
    this.faults.push(fault);
    return fault;
  }

  list(): Fault[] {
    return this.faults.filter((fault) => fault.remaining > 0);
  }

  /** Removes one fault, or all of them when no id is given. */
  clear(id?: string): number {
    const before = this.faults.length;
    this.faults = id === undefined ? [] : this.faults.filter((fault) => fault.id !== id);
    return before - this.faults.length;
  }

  /** Consumes and returns the oldest matching fault whose kind is one of `kinds`. */
  take<K extends string>(
    channel: 'api' | 'notify',
    target: FaultTarget,
    kinds: readonly K[],
  ): (Fault & { kind: K }) | undefined {
    const fault = this.faults.find(
      (candidate) =>
        candidate.channel === channel &&
        candidate.remaining > 0 &&
        (kinds as readonly string[]).includes(candidate.kind) &&
        matches(candidate.spec, target),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    fault.used += 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    return fault as Fault & { kind: K };
  }
}

function matches(spec: FaultSpec, target: FaultTarget): boolean {
  if (spec.mchid !== undefined && spec.mchid !== target.mchid) return false;
  if (spec.outTradeNo !== undefined && spec.outTradeNo !== target.outTradeNo) return false;
  if (spec.operation !== undefined && spec.operation !== target.operation) return false;
  if (spec.eventType !== undefined && spec.eventType !== target.eventType) return false;
  return true;
}
