/**
 * The message push: each event POSTed as JSON to the mini program's push URL, signed in the URL
 * (plain mode) or encrypted in an `Encrypt` field with msg_signature (aes mode). An answer of
 * `{"ErrCode":0}` delivers it; anything else is tried again on a schedule, as WeChat does.
 */
import { randomBytes } from 'node:crypto';
import type { MiniProgram } from './gateway.ts';
import { sealPush, sortedSha1 } from './wire-crypto.ts';

export type PushMode = 'plain' | 'aes';

/** Seconds between attempts after the first (scaled by the time factor). */
export const PUSH_RETRY_SCHEDULE_S = [5, 10, 30, 60, 300, 600, 1800, 3600] as const;
const ATTEMPT_TIMEOUT_MS = 5_000;

export interface PushRecord {
  id: string;
  appId: string;
  event: string;
  message: Record<string, unknown>;
  attempts: { at: number; status: number | null; body?: string; error?: string }[];
  delivered: boolean;
}

export class PushSender {
  readonly records: PushRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly apps = new Map<string, MiniProgram>();
  private readonly onDelivered = new Map<string, () => void>();

  constructor(
    private readonly timeFactor: number,
    private readonly now: () => number,
  ) {}

  send(app: MiniProgram, message: Record<string, unknown>, onDelivered?: () => void): PushRecord {
    const record: PushRecord = {
      id: randomBytes(8).toString('hex'),
      appId: app.appId,
      event: String(message.Event),
      message,
      attempts: [],
      delivered: false,
    };
    this.records.push(record);
    this.apps.set(app.appId, app);
    if (onDelivered) this.onDelivered.set(record.id, onDelivered);
    void this.attempt(record, 0);
    return record;
  }

  /** Posts a push again now, freshly signed: a duplicate, as WeChat's resends are. */
  async resend(id: string): Promise<PushRecord | null> {
    const record = this.records.find((r) => r.id === id);
    if (!record) return null;
    await this.post(record);
    return record;
  }

  /** The URL and body of one attempt, signed now. */
  signed(app: MiniProgram, message: Record<string, unknown>): { url: string; body: string } {
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(randomBytes(4).readUInt32BE(0));
    const url = new URL(String(app.pushUrl));
    const params = url.searchParams;
    params.set('signature', sortedSha1([app.pushToken, timestamp, nonce]));
    params.set('timestamp', timestamp);
    params.set('nonce', nonce);
    if (typeof message.OpenId === 'string') params.set('openid', message.OpenId);
    const plain = JSON.stringify(message);
    if (app.pushMode === 'plain') return { url: url.toString(), body: plain };
    const encrypted = sealPush(app.encodingAesKey, plain, app.appId);
    params.set('encrypt_type', 'aes');
    params.set('msg_signature', sortedSha1([app.pushToken, timestamp, nonce, encrypted]));
    return { url: url.toString(), body: JSON.stringify({ ToUserName: app.originalId, Encrypt: encrypted }) };
  }

  private async attempt(record: PushRecord, index: number): Promise<void> {
    const delivered = await this.post(record);
    if (delivered || index >= PUSH_RETRY_SCHEDULE_S.length) return;
    const delay = Math.max(1, Math.round((PUSH_RETRY_SCHEDULE_S[index] ?? 60) * 1000 * this.timeFactor));
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(record, index + 1);
    }, delay);
    this.timers.add(timer);
  }

  private async post(record: PushRecord): Promise<boolean> {
    const app = this.apps.get(record.appId);
    if (!app?.pushUrl) {
      record.attempts.push({ at: this.now(), status: null, error: 'no push URL configured' });
      return false;
    }
    const { url, body } = this.signed(app, record.message);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      const text = await response.text();
      record.attempts.push({ at: this.now(), status: response.status, body: text.slice(0, 200) });
      let errCode: unknown = null;
      try {
        errCode = (JSON.parse(text) as { ErrCode?: unknown }).ErrCode;
      } catch {
        errCode = null;
      }
      if (response.status === 200 && errCode === 0) {
        if (!record.delivered) {
          record.delivered = true;
          this.onDelivered.get(record.id)?.();
        }
        return true;
      }
    } catch (error) {
      record.attempts.push({
        at: this.now(),
        status: null,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    return false;
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
