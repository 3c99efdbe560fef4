/**
 * Payment and refund notifications: encrypt the resource with the merchant's APIv3 key, sign
 * the body with the gateway key, POST it to notify_url and retry on WeChat's schedule until a
 * 2xx answer (protocols.md A.5). Notification faults (drop, duplicate, delay, reorder, bad
 * signature) are applied here.
 */
import { request as httpRequest } from 'undici';
import type { GatewayScheduler } from '../shared/scheduler.ts';
import type { FaultBook, NotifyFaultKind } from './faults.ts';
import {
  gatewaySignatureHeaders,
  SIGNATURE_FAULT_KINDS,
  type SignatureFaultKind,
} from './gateway-signature.ts';
import type { MerchantRegistry } from './merchants.ts';
import type { SplitLine, SplitOrder } from './profit-sharing.ts';
import type { Refund } from './refunds.ts';
import { formatChinaTime, randomAlphanumeric, type SandboxRuntime } from './runtime.ts';
import type { Trade } from './trades.ts';
import { encryptAes256Gcm } from './wire-crypto.ts';
import { refundNotificationJson, transactionJson } from './wire-views.ts';

/** Gateway seconds between attempts: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h. */
export const NOTIFY_RETRY_SCHEDULE_SECONDS = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
] as const;

export type NotificationEventType =
  | 'TRANSACTION.SUCCESS'
  | 'REFUND.SUCCESS'
  | 'REFUND.ABNORMAL'
  | 'REFUND.CLOSED'
  | 'PROFITSHARING.SUCCESS'
  | 'PROFITSHARING.CLOSED';

const SUMMARIES: Record<NotificationEventType, string> = {
  'TRANSACTION.SUCCESS': '支付成功',
  'REFUND.SUCCESS': '退款成功',
  'REFUND.ABNORMAL': '退款异常',
  'REFUND.CLOSED': '退款关闭',
  'PROFITSHARING.SUCCESS': '分账成功',
  'PROFITSHARING.CLOSED': '分账失败',
};

export interface DeliveryAttempt {
  /** Which copy (duplicates are copies) and which try of that copy, from 0. */
  copy: number;
  attempt: number;
  at: string;
  serial: string;
  status?: number;
  error?: string;
}

export interface NotificationRecord {
  id: string;
  /** The merchant whose order it is about (the sub_mchid in partner mode). */
  mchid: string;
  /** Partner mode: the service provider whose keys encrypt and sign it. */
  spMchid?: string;
  outTradeNo: string;
  outRefundNo: string | undefined;
  eventType: NotificationEventType;
  notifyUrl: string;
  /** The exact JSON that is POSTed. */
  body: string;
  /** The decrypted resource, for inspection. */
  resource: Record<string, unknown>;
  state: 'pending' | 'delivered' | 'dropped' | 'exhausted';
  attempts: DeliveryAttempt[];
}

export interface NotifierOptions {
  /** How long WeChat waits for the merchant's answer; the docs give 5 s. */
  responseTimeoutMs?: number;
}

export class Notifier {
  private readonly records: NotificationRecord[] = [];
  /** A notification held back by a 'reorder' fault until the next one for the merchant goes out. */
  private readonly held = new Map<string, () => void>();
  private readonly responseTimeoutMs: number;

  constructor(
    private readonly runtime: SandboxRuntime,
    private readonly scheduler: GatewayScheduler,
    private readonly merchants: MerchantRegistry,
    private readonly faults: FaultBook,
    options: NotifierOptions = {},
  ) {
    this.responseTimeoutMs = options.responseTimeoutMs ?? 5000;
  }

  list(filter: { mchid?: string; outTradeNo?: string } = {}): NotificationRecord[] {
    return this.records.filter(
      (record) =>
        (filter.mchid === undefined || record.mchid === filter.mchid) &&
        (filter.outTradeNo === undefined || record.outTradeNo === filter.outTradeNo),
    );
  }

  /** WeChat notifies only successful payments, to the order's notify_url (a codepay may have none). */
  paymentSucceeded(trade: Trade): void {
    if (!trade.notifyUrl) return;
    this.dispatch(
      { mchid: trade.mchid, spMchid: trade.partner?.spMchid },
      trade.outTradeNo,
      undefined,
      'TRANSACTION.SUCCESS',
      trade.notifyUrl,
      'transaction',
      {
        ...transactionJson(trade),
      },
    );
  }

  /** Refunds are notified only when the refund request carried a notify_url. */
  refundSettled(refund: Refund): void {
    if (!refund.notifyUrl || refund.status === 'PROCESSING') return;
    const eventType = `REFUND.${refund.status}` as NotificationEventType;
    this.dispatch(
      { mchid: refund.mchid, spMchid: refund.spMchid },
      refund.outTradeNo,
      refund.outRefundNo,
      eventType,
      refund.notifyUrl,
      'refund',
      {
        ...refundNotificationJson(refund),
      },
    );
  }

  /**
   * One receiver's line of a split paid or closed, to the merchant's profit-sharing notify URL
   * (WeChat takes it from the merchant platform, not from the request).
   */
  splitLineSettled(order: SplitOrder, line: SplitLine, notifyUrl: string | undefined): void {
    if (!notifyUrl || line.result === 'PENDING') return;
    const parties = order.spMchid
      ? { sp_mchid: order.spMchid, sub_mchid: order.mchid }
      : { mchid: order.mchid };
    this.dispatch(
      { mchid: order.mchid, spMchid: order.spMchid },
      order.outTradeNo,
      undefined,
      `PROFITSHARING.${line.result}`,
      notifyUrl,
      'profitsharing',
      {
        ...parties,
        transaction_id: order.transactionId,
        order_id: order.orderId,
        out_order_no: order.outOrderNo,
        receiver: {
          type: line.type,
          account: line.account,
          amount: line.amount,
          description: line.description,
        },
        success_time: formatChinaTime(line.finishedAt ?? this.runtime.clock.now()),
      },
    );
  }

  private dispatch(
    owner: { mchid: string; spMchid: string | undefined },
    outTradeNo: string,
    outRefundNo: string | undefined,
    eventType: NotificationEventType,
    notifyUrl: string,
    originalType: 'transaction' | 'refund' | 'profitsharing',
    resource: Record<string, unknown>,
  ): void {
    const { mchid, spMchid } = owner;
    const merchant = this.merchants.get(spMchid ?? mchid);
    if (!merchant) return;
    const now = this.runtime.clock.now();
    const nonce = randomAlphanumeric(this.runtime.random, 12);
    const id = notificationId(this.runtime);
    const body = JSON.stringify({
      id,
      create_time: formatChinaTime(now),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary: SUMMARIES[eventType],
      resource: {
        original_type: originalType,
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: encryptAes256Gcm(merchant.apiV3Key, nonce, originalType, JSON.stringify(resource)),
        associated_data: originalType,
        nonce,
      },
    });
    const record: NotificationRecord = {
      id,
      mchid,
      ...(spMchid ? { spMchid } : {}),
      outTradeNo,
      outRefundNo,
      eventType,
      notifyUrl,
      body,
      resource,
      state: 'pending',
      attempts: [],
    };
    this.records.push(record);

    const target = { mchid, outTradeNo, eventType };
    const fault = this.faults.take<NotifyFaultKind>('notify', target, [
      'drop',
      'duplicate',
      'delay',
      'reorder',
    ]);
    const startCopies = () => {
      this.deliver(record, 0, 0);
      if (fault?.kind === 'duplicate') this.deliver(record, 1, 0);
    };
    // Whatever was held back for this merchant goes out right after this one: that is the reorder.
    const releaseHeld = this.held.get(mchid);
    this.held.delete(mchid);

    if (fault?.kind === 'drop') {
      record.state = 'dropped';
    } else if (fault?.kind === 'delay') {
      this.scheduler.afterRealMs(fault.spec.delayMs ?? 1000, startCopies);
    } else if (fault?.kind === 'reorder') {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        startCopies();
      };
      this.held.set(mchid, release);
      this.scheduler.afterRealMs(fault.spec.delayMs ?? 1000, () => {
        if (this.held.get(mchid) === release) this.held.delete(mchid);
        release();
      });
    } else {
      startCopies();
    }
    releaseHeld?.();
  }

  private deliver(record: NotificationRecord, copy: number, attempt: number): void {
    const merchant = this.merchants.get(record.spMchid ?? record.mchid);
    if (!merchant) return;
    const key = this.merchants.notificationSigningKey(merchant);
    const signatureFault = this.faults.take<SignatureFaultKind>(
      'notify',
      { mchid: record.mchid, outTradeNo: record.outTradeNo, eventType: record.eventType },
      SIGNATURE_FAULT_KINDS,
    )?.kind;
    const headers = gatewaySignatureHeaders(key, record.body, this.runtime, signatureFault);
    const entry: DeliveryAttempt = {
      copy,
      attempt,
      at: formatChinaTime(this.runtime.clock.wall.now()),
      serial: headers['Wechatpay-Serial']!,
    };
    record.attempts.push(entry);
    void this.post(record, headers).then((outcome) => {
      Object.assign(entry, outcome);
      const accepted = outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;
      if (accepted) {
        record.state = 'delivered';
        return;
      }
      const waitSeconds = NOTIFY_RETRY_SCHEDULE_SECONDS[attempt];
      if (waitSeconds === undefined) {
        if (record.state === 'pending') record.state = 'exhausted';
        return;
      }
      this.scheduler.after(waitSeconds * 1000, () => {
        // A copy stops retrying once any copy got through, as WeChat stops once acknowledged.
        if (record.state !== 'delivered') this.deliver(record, copy, attempt + 1);
      });
    });
  }

  private async post(
    record: NotificationRecord,
    signature: Record<string, string>,
  ): Promise<{ status?: number; error?: string }> {
    try {
      const response = await httpRequest(record.notifyUrl, {
        method: 'POST',
        body: record.body,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'user-agent': 'Mozilla/4.0 (VK-Pay WeChat Pay sandbox)',
          'request-id': record.id,
          ...signature,
        },
        headersTimeout: this.responseTimeoutMs,
        bodyTimeout: this.responseTimeoutMs,
      });
      await response.body.dump();
      return { status: response.statusCode };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }
}

function notificationId(runtime: SandboxRuntime): string {
  const hex = runtime.random(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
