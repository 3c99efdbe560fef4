/**
 * Callbacks to the developer's server: a JSON POST, signed by the platform key (general trade
 * system: Byte-* headers) or by the app's token (legacy: msg_signature in the body). Only HTTP 200
 * with {"err_no":0} delivers it; otherwise it is sent again on the schedule below (gateway time),
 * each time freshly signed, until it is delivered or the schedule ends.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { GatewayScheduler } from '../shared/scheduler.ts';
import { legacyMsgSignature, platformSigningText, signRsa } from './signing.ts';
import type { DouyinApp } from './state.ts';

/** Seconds between attempts after the first one. */
export const NOTIFY_RETRY_SCHEDULE_SECONDS = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600] as const;
const ATTEMPT_TIMEOUT_MS = 5_000;

export interface NotificationRecord {
  id: string;
  appId: string;
  type: 'payment' | 'refund';
  url: string;
  /** The last request sent, as sent: replayable by tests. */
  headers: Record<string, string>;
  body: string;
  attempts: { at: number; status: number | null; answer?: string; error?: string }[];
  delivered: boolean;
}

export class Notifier {
  readonly records: NotificationRecord[] = [];

  constructor(
    private readonly scheduler: GatewayScheduler,
    private readonly now: () => number,
  ) {}

  send(
    app: DouyinApp,
    url: string,
    type: 'payment' | 'refund',
    msg: Record<string, unknown>,
  ): NotificationRecord {
    const record: NotificationRecord = {
      id: randomUUID(),
      appId: app.appId,
      type,
      url,
      headers: {},
      body: '',
      attempts: [],
      delivered: false,
    };
    this.records.push(record);
    void this.attempt(app, record, msg, 0);
    return record;
  }

  /** The signed request of one attempt: signed again each time, as the platform does. */
  signed(
    app: DouyinApp,
    type: string,
    msg: Record<string, unknown>,
  ): { headers: Record<string, string>; body: string } {
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = randomBytes(8).toString('hex');
    const msgText = JSON.stringify(msg);
    if (app.api === 'ecpay') {
      const body = JSON.stringify({
        timestamp,
        nonce,
        msg: msgText,
        type,
        msg_signature: legacyMsgSignature(app.token, timestamp, nonce, msgText),
      });
      return { headers: { 'content-type': 'application/json' }, body };
    }
    const body = JSON.stringify({ version: '2.0', msg: msgText, type });
    return {
      headers: {
        'content-type': 'application/json',
        'Byte-Identifyname': '/common/pay/notify',
        'Byte-Logid': randomBytes(12).toString('hex'),
        'Byte-Timestamp': timestamp,
        'Byte-Nonce-Str': nonce,
        'Byte-Signature': signRsa(app.platformPrivateKey, platformSigningText(timestamp, nonce, body)),
      },
      body,
    };
  }

  private async attempt(app: DouyinApp, record: NotificationRecord, msg: Record<string, unknown>, n: number) {
    const request = this.signed(app, record.type, msg);
    record.headers = request.headers;
    record.body = request.body;
    const attempt: NotificationRecord['attempts'][number] = { at: this.now(), status: null };
    record.attempts.push(attempt);
    try {
      const response = await fetch(record.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      attempt.status = response.status;
      attempt.answer = (await response.text()).slice(0, 256);
      const answer = JSON.parse(attempt.answer || '{}') as { err_no?: unknown };
      if (response.status === 200 && answer.err_no === 0) {
        record.delivered = true;
        return;
      }
    } catch (error) {
      attempt.error = (error as Error).message;
    }
    const wait = NOTIFY_RETRY_SCHEDULE_SECONDS[n];
    if (wait !== undefined)
      this.scheduler.after(wait * 1000, () => void this.attempt(app, record, msg, n + 1));
  }
}
