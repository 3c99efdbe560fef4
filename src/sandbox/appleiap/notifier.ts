/**
 * App Store Server Notifications V2: `POST {"signedPayload": "<JWS>"}` to the app's URL for the
 * environment. A 200-206 answer delivers it. Otherwise production retries five times, 1, 12, 24, 48
 * and 72 hours after the previous attempt (scaled by the time factor); the sandbox tries once.
 */

import type { GatewayScheduler } from '../shared/scheduler.ts';
import type { AppleEnvironment } from './apps.ts';
import { signAppleJws } from './signing.ts';
import type { AppleTestCa } from './test-ca.ts';

export const NOTIFY_RETRY_SCHEDULE_HOURS = [1, 12, 24, 48, 72] as const;
const ATTEMPT_TIMEOUT_MS = 5_000;

export interface NotificationAttempt {
  at: number;
  status: number | null;
  error?: string;
}

export interface NotificationRecord {
  notificationUUID: string;
  notificationType: string;
  subtype?: string;
  environment: AppleEnvironment;
  url: string | null;
  signedPayload: string;
  attempts: NotificationAttempt[];
  delivered: boolean;
}

export class Notifier {
  readonly records: NotificationRecord[] = [];

  constructor(
    private readonly scheduler: GatewayScheduler,
    private readonly now: () => number,
  ) {}

  send(
    url: string | undefined,
    message: { payload: Record<string, unknown>; environment: AppleEnvironment; ca: AppleTestCa },
  ): NotificationRecord {
    const record: NotificationRecord = {
      notificationUUID: String(message.payload.notificationUUID),
      notificationType: String(message.payload.notificationType),
      ...(message.payload.subtype ? { subtype: String(message.payload.subtype) } : {}),
      environment: message.environment,
      url: url ?? null,
      signedPayload: signAppleJws(message.payload, message.ca.signingChain),
      attempts: [],
      delivered: false,
    };
    this.records.push(record);
    if (url) void this.attempt(record, 0);
    return record;
  }

  /** Posts the same signed payload again now (a duplicate, as Apple's retries are). */
  resend(notificationUUID: string): Promise<NotificationRecord | null> {
    const record = this.records.find((candidate) => candidate.notificationUUID === notificationUUID);
    if (!record?.url) return Promise.resolve(null);
    return this.post(record).then(() => record);
  }

  private async attempt(record: NotificationRecord, retriesDone: number): Promise<void> {
    await this.post(record);
    if (record.delivered || record.environment === 'Sandbox') return;
    const delayHours = NOTIFY_RETRY_SCHEDULE_HOURS[retriesDone];
    if (delayHours === undefined) return;
    this.scheduler.after(delayHours * 3_600_000, () => void this.attempt(record, retriesDone + 1));
  }

  private async post(record: NotificationRecord): Promise<void> {
    const attempt: NotificationAttempt = { at: this.now(), status: null };
    record.attempts.push(attempt);
    try {
      const response = await fetch(record.url ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ signedPayload: record.signedPayload }),
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      attempt.status = response.status;
      if (response.status >= 200 && response.status <= 206) record.delivered = true;
    } catch (error) {
      attempt.error = error instanceof Error ? error.message : String(error);
    }
  }
}
