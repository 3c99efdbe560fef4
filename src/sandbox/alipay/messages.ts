/**
 * Open-platform messages (alipay.fund.trans.order.changed, alipay.trade.order.settle.notify): signed
 * form fields POSTed to the call's notify_url and resent on Alipay's schedule until the answer is
 * exactly `success`. Each attempt's outcome goes to `log`.
 */
import type { AlipayGateway } from './gateway.ts';

export type MessageAttempt = { status?: number; body?: string; error?: string };

const RESEND_GAPS_MS = [4, 10, 10, 60, 120, 360, 900].map((minutes) => minutes * 60_000);

export function postMessage(
  gateway: AlipayGateway,
  url: string,
  fields: Record<string, string>,
  log: MessageAttempt[],
): void {
  const body = new URLSearchParams(fields).toString();
  const attempt = (index: number) => {
    void fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(10_000),
    })
      .then(async (response) => ({ status: response.status, body: (await response.text()).slice(0, 200) }))
      .catch((error: Error): MessageAttempt => ({ error: error.message }))
      .then((outcome) => {
        log.push(outcome);
        if (outcome.body === 'success') return;
        const gap = RESEND_GAPS_MS[index];
        if (gap !== undefined) gateway.scheduler.after(gap, () => attempt(index + 1));
      });
  };
  attempt(0);
}
