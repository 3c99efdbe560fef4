/**
 * Asynchronous notifications: a signed form POST to notify_url for every trade change except
 * WAIT_BUYER_PAY, re-sent on Alipay's schedule (8 sends: 4m, 10m, 10m, 1h, 2h, 6h, 15h apart,
 * scaled by timeFactor) until the merchant answers exactly `success`. Faults can drop, duplicate,
 * delay, reorder or mis-sign single sends.
 */

import type { GatewayScheduler } from '../shared/scheduler.ts';
import type { AppRegistry } from './apps.ts';
import type { FaultBook } from './faults.ts';
import type { AlipayRuntime } from './runtime.ts';
import { randomToken } from './runtime.ts';
import { corruptSignature, type WireParams } from './signing.ts';
import type { TradeEvent } from './trades.ts';
import { notificationFields, signNotifyFields } from './wire-views.ts';

const MINUTE = 60_000;
/** Gaps between the 8 sends, in gateway milliseconds (protocols.md C.7). */
export const ALIPAY_NOTIFY_RETRY_GAPS_MS: readonly number[] = [
  4 * MINUTE,
  10 * MINUTE,
  10 * MINUTE,
  60 * MINUTE,
  120 * MINUTE,
  360 * MINUTE,
  900 * MINUTE,
];

export interface NotifierOptions {
  /** Replaces Alipay's gaps between sends; its length + 1 is the number of sends. */
  notifyRetryGapsMs?: readonly number[];
  /** Real milliseconds to wait for the merchant's answer before counting the send as failed. */
  notifyTimeoutMs?: number;
}

export interface DeliveryAttempt {
  /** Real epoch ms when the send started. */
  at: number;
  status?: number;
  body?: string;
  error?: string;
  fault?: string;
}

export interface NotificationRecord {
  notifyId: string;
  appId: string;
  outTradeNo: string;
  tradeStatus: string;
  event: TradeEvent['kind'];
  notifyUrl: string;
  params: WireParams;
  /** Scheduled sends so far (a duplicated send counts once, with two attempts). */
  sends: number;
  attempts: DeliveryAttempt[];
  acknowledged: boolean;
  /** True once all sends failed. */
  gaveUp: boolean;
}

export class Notifier {
  private readonly records: NotificationRecord[] = [];
  /** Sends held back by a 'reorder' fault, released after the app's next send. */
  private held: Array<{ appId: string; release: () => void }> = [];
  private readonly gaps: readonly number[];

  constructor(
    private readonly runtime: AlipayRuntime,
    private readonly scheduler: GatewayScheduler,
    private readonly apps: AppRegistry,
    private readonly faults: FaultBook,
    private readonly options: NotifierOptions = {},
  ) {
    this.gaps = options.notifyRetryGapsMs ?? ALIPAY_NOTIFY_RETRY_GAPS_MS;
  }

  list(filter: { appId?: string; outTradeNo?: string } = {}): NotificationRecord[] {
    return this.records.filter(
      (record) =>
        (filter.appId === undefined || record.appId === filter.appId) &&
        (filter.outTradeNo === undefined || record.outTradeNo === filter.outTradeNo),
    );
  }

  /**
   * Sends a trade's latest notification once more, as a delivery of its own (the same notify_id and
   * signed fields, Alipay's schedule and faults): the sandbox's way to repeat a genuine notification.
   * Undefined when the trade has had none.
   */
  resend(appId: string, outTradeNo: string): NotificationRecord | undefined {
    const latest = this.list({ appId, outTradeNo }).at(-1);
    if (!latest) return undefined;
    const record: NotificationRecord = {
      ...latest,
      sends: 0,
      attempts: [],
      acknowledged: false,
      gaveUp: false,
    };
    this.records.push(record);
    this.scheduler.afterRealMs(0, () => this.attempt(record));
    return record;
  }

  /** Called synchronously on every trade event, so the fields capture the trade as it is now. */
  tradeChanged(event: TradeEvent): void {
    const { trade } = event;
    if (!trade.notifyUrl) return;
    const app = this.apps.get(trade.appId);
    const notifyId = randomToken(this.runtime.random, 32);
    // notify_time is when the notification is sent, by the clock the merchant checks it with.
    const fields = notificationFields(app, event, notifyId, this.runtime.clock.wall.now());
    const record: NotificationRecord = {
      notifyId,
      appId: trade.appId,
      outTradeNo: trade.outTradeNo,
      tradeStatus: trade.status,
      event: event.kind,
      notifyUrl: trade.notifyUrl,
      params: signNotifyFields(fields, app),
      sends: 0,
      attempts: [],
      acknowledged: false,
      gaveUp: false,
    };
    this.records.push(record);
    // Sent from a timer, never inline: the API answer goes out before its notification, as at Alipay.
    this.scheduler.afterRealMs(0, () => this.attempt(record));
  }

  private attempt(record: NotificationRecord): void {
    if (record.acknowledged) return;
    record.sends += 1;
    const fault = this.faults.take('notify', {
      appId: record.appId,
      outTradeNo: record.outTradeNo,
      tradeStatus: record.tradeStatus,
    });
    const kind = fault?.spec.kind;
    const delayMs = fault?.spec.delayMs ?? 1000;
    if (kind === 'drop') {
      record.attempts.push({ at: Date.now(), fault: 'drop' });
      this.afterFailedSend(record);
    } else if (kind === 'delay') {
      this.scheduler.afterRealMs(delayMs, () => void this.send(record, { fault: 'delay' }));
    } else if (kind === 'reorder') {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.held = this.held.filter((entry) => entry.release !== release);
        void this.send(record, { fault: 'reorder' });
      };
      this.held.push({ appId: record.appId, release });
      this.scheduler.afterRealMs(delayMs, release);
    } else if (kind === 'duplicate') {
      void this.send(record, { fault: 'duplicate', copies: 2 });
    } else {
      void this.send(record, kind === 'badSignature' ? { fault: 'badSignature', badSignature: true } : {});
    }
  }

  private async send(
    record: NotificationRecord,
    how: { fault?: string; copies?: number; badSignature?: boolean },
  ): Promise<void> {
    const params = how.badSignature
      ? { ...record.params, sign: corruptSignature(record.params.sign ?? '') }
      : record.params;
    const body = new URLSearchParams(params).toString();
    const results = await Promise.all(
      Array.from({ length: how.copies ?? 1 }, () => this.post(record, body, how.fault)),
    );
    this.releaseHeld(record.appId);
    if (results.some((acknowledged) => acknowledged)) {
      record.acknowledged = true;
      return;
    }
    this.afterFailedSend(record);
  }

  private async post(record: NotificationRecord, body: string, fault: string | undefined): Promise<boolean> {
    const attempt: DeliveryAttempt = { at: Date.now(), ...(fault ? { fault } : {}) };
    record.attempts.push(attempt);
    try {
      const response = await fetch(record.notifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body,
        signal: AbortSignal.timeout(this.options.notifyTimeoutMs ?? 10_000),
      });
      attempt.status = response.status;
      attempt.body = (await response.text()).slice(0, 200);
      // Exactly the 7 bytes `success`: whitespace or HTML around it counts as a failure at Alipay.
      return attempt.body === 'success';
    } catch (error) {
      attempt.error = (error as Error).message;
      return false;
    }
  }

  private releaseHeld(appId: string): void {
    for (const entry of this.held.filter((candidate) => candidate.appId === appId)) entry.release();
  }

  private afterFailedSend(record: NotificationRecord): void {
    const gap = this.gaps[record.sends - 1];
    if (gap === undefined || record.acknowledged) {
      record.gaveUp = !record.acknowledged;
      return;
    }
    this.scheduler.after(gap, () => this.attempt(record));
  }
}
