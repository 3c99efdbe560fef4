import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AlertMessage,
  alertBody,
  checkErrorRate,
  DEFAULT_ALERTS,
  signedDingtalkUrl,
  webhookSender,
} from '../../src/service/monitoring.ts';
import { backends } from '../support/backends.ts';
import {
  codeOf,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('MON');

/** A webhook receiver on a real socket: what a WeCom or DingTalk group robot would be sent. */
async function startReceiver(): Promise<{ url: string; bodies: unknown[]; server: Server }> {
  const bodies: unknown[] = [];
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => {
      text += chunk;
    });
    request.on('end', () => {
      bodies.push({ url: request.url, body: JSON.parse(text) });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/robot/send?key=secret-key`, bodies, server };
}

describe.each(backends)('monitoring on $name', (backend) => {
  let h: WxpayHarness;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const started = new Date(Date.now() - 1000);

  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await h?.close();
    await new Promise((resolve) => receiver?.server.close(resolve));
  });

  const alertHistory = () =>
    h.vkPay.store.db.selectFrom('monitoring_alerts').selectAll().orderBy('id').execute();

  const pay = (no: string, totalFee: number) =>
    h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: totalFee,
      subject: '监控测试',
      type: 'goods',
    });

  it('reports the window: orders and success rate, gateway response times, errors by code', async () => {
    const paid = [tradeNo(), tradeNo(), tradeNo()];
    for (const [i, no] of paid.entries()) await pay(no, 100 * (i + 1));
    await pay(tradeNo(), 50);
    // The provider retries a system error, so the fault stays until removed.
    await h.control('POST', '/faults', { kind: 'systemError', operation: 'prepay', times: 'always' });
    expect(await codeOf(pay(tradeNo(), 70))).toBe(40010);
    expect(await codeOf(pay(tradeNo(), 70))).toBe(40010);
    await h.control('DELETE', '/faults');
    for (const no of paid) {
      await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
      await eventually(
        () => h.vkPay.getOrder(MERCHANT, no),
        (order) => order.status === 'SUCCESS',
      );
    }

    const answer = await h.app.inject({
      method: 'GET',
      url: `/admin/stats?from=${encodeURIComponent(started.toISOString())}`,
    });
    expect(answer.statusCode).toBe(200);
    const stats = answer.json().data;
    expect(stats.orders).toEqual({ created: 6, paid: 3, closed: 0, successRate: 0.5, paidFen: 600 });
    const creates = stats.calls.find(
      (row: { provider: string; type: string }) => row.provider === 'wxpay' && row.type === 'create',
    );
    expect(creates).toMatchObject({ calls: 6, errors: 2 });
    expect(creates.errorRate).toBeCloseTo(2 / 6);
    expect(creates.minMs).toBeLessThanOrEqual(creates.avgMs);
    expect(creates.avgMs).toBeLessThanOrEqual(creates.maxMs);
    expect(creates.p95Ms).toBeGreaterThanOrEqual(creates.minMs);
    expect(creates.p95Ms).toBeLessThanOrEqual(creates.maxMs);
    expect(stats.errors).toEqual([{ code: 40010, count: 2 }]);
    expect(stats.reviews).toEqual({ open: 0 });

    // A window before any of it is empty.
    const before = await h.app.inject({
      method: 'GET',
      url: `/admin/stats?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z`,
    });
    expect(before.json().data.orders).toEqual({
      created: 0,
      paid: 0,
      closed: 0,
      successRate: null,
      paidFen: 0,
    });
  });

  it('keeps the statistics for the operators, and refuses a window that makes no sense', async () => {
    const outsider = await h.app.inject({ method: 'GET', url: '/admin/stats', remoteAddress: '10.1.2.3' });
    expect(outsider.statusCode).toBe(403);
    expect(outsider.json().code).toBe(40009);
    const backwards = await h.app.inject({
      method: 'GET',
      url: '/admin/stats?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z',
    });
    expect(backwards.statusCode).toBe(400);
    expect(backwards.json()).toMatchObject({ code: 40001, field: 'from' });
    const notADate = await h.app.inject({ method: 'GET', url: '/admin/stats?from=yesterday' });
    expect(notADate.statusCode).toBe(400);
    expect(notADate.json().code).toBe(40001);
  });

  it('alerts once when system errors pass the threshold, however many instances check, and once when they stop', async () => {
    const settings = {
      ...DEFAULT_ALERTS,
      webhookUrl: receiver.url,
      format: 'wecom' as const,
      windowMs: 10 * 60_000,
      minEvents: 5,
    };
    const send = webhookSender(h.vkPay.context, settings);
    await h.control('POST', '/faults', { kind: 'systemError', operation: 'prepay', times: 'always' });
    for (let i = 0; i < 6; i++) expect(await codeOf(pay(tradeNo(), 90))).toBe(40010);
    await h.control('DELETE', '/faults');
    // Caller mistakes are not the system failing: they never count toward the alert.
    const unknownOrder = { merchantId: MERCHANT, out_trade_no: 'NO-SUCH-ORDER', out_refund_no: 'NO-SUCH-R1' };
    expect(await codeOf(h.vkPay.refund({ ...unknownOrder, refund_fee: 1 }))).toBe(40005);

    // Two instances check at once, sharing the cache: one alert.
    const checks = await Promise.all([
      checkErrorRate(h.vkPay.context, settings, send),
      checkErrorRate(h.vkPay.context, settings, send),
    ]);
    expect(checks.every((check) => check.firing)).toBe(true);
    expect(checks.map((check) => check.sent).sort()).toEqual(['firing', null]);
    expect(checks[0]!.errors).toBe(8);
    expect(checks[0]!.rate).toBeGreaterThan(0.1);
    expect(receiver.bodies).toHaveLength(1);
    const alert = receiver.bodies[0] as { url: string; body: { msgtype: string; text: { content: string } } };
    expect(alert.url).toBe('/robot/send?key=secret-key');
    expect(alert.body.msgtype).toBe('text');
    expect(alert.body.text.content).toContain('支付异常告警');
    expect(alert.body.text.content).toContain('40010×8');
    // Still failing a minute later: nothing new until repeatMs has passed.
    expect((await checkErrorRate(h.vkPay.context, settings, send)).sent).toBeNull();

    // Eleven minutes on, the window is quiet: the all-clear, once.
    const later = new Date(Date.now() + 11 * 60_000);
    const [calm, calmAgain] = await Promise.all([
      checkErrorRate(h.vkPay.context, settings, send, later),
      checkErrorRate(h.vkPay.context, settings, send, later),
    ]);
    expect([calm!.sent, calmAgain!.sent].sort()).toEqual([null, 'resolved']);
    expect(receiver.bodies).toHaveLength(2);
    expect((receiver.bodies[1] as { body: { text: { content: string } } }).body.text.content).toContain(
      '告警恢复',
    );

    // A new incident is announced again.
    expect((await checkErrorRate(h.vkPay.context, settings, send)).sent).toBe('firing');
    expect(receiver.bodies).toHaveLength(3);

    // Each alert sent is in the history once, as the instance that won the incident decided it.
    const history = await alertHistory();
    expect(history.map((row) => row.kind)).toEqual(['firing', 'resolved', 'firing']);
    expect(history[0]).toMatchObject({
      alert: 'vkpay_error_rate',
      errors: 8,
      threshold: 0.1,
      window_minutes: 10,
    });
    expect(history[0]!.by_code).toEqual([{ code: 40010, count: 8 }]);
    expect(new Date(history[1]!.incident).getTime()).toBe(new Date(history[0]!.incident).getTime());
    expect(new Date(history[1]!.at).getTime()).toBe(later.getTime());
    expect(new Date(history[2]!.incident).getTime()).toBeGreaterThan(
      new Date(history[1]!.incident).getTime(),
    );
  });

  it('records a long incident’s reminders as repeats of it, and closes it even after its lock expired', async () => {
    const settings = {
      ...DEFAULT_ALERTS,
      webhookUrl: receiver.url,
      format: 'json' as const,
      windowMs: 10 * 60_000,
      minEvents: 5,
      repeatMs: 1_500,
    };
    const send = webhookSender(h.vkPay.context, settings);
    const later = () => new Date(Date.now() + 11 * 60_000);
    // The incident the test before left open ends first.
    expect((await checkErrorRate(h.vkPay.context, settings, send, later())).recorded).toBe('resolved');
    const start = (await alertHistory()).length;

    const first = await checkErrorRate(h.vkPay.context, settings, send);
    expect(first).toMatchObject({ sent: 'firing', recorded: 'firing' });
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    // The lock expired while the rate stays high: two instances, one reminder, told as a repeat.
    const reminders = await Promise.all([
      checkErrorRate(h.vkPay.context, settings, send),
      checkErrorRate(h.vkPay.context, settings, send),
    ]);
    expect(reminders.map((check) => check.recorded).sort()).toEqual([null, 'repeated']);
    expect(reminders.map((check) => check.sent).sort()).toEqual(['firing', null]);
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    // The rate falls after the lock expired: the history still has the incident open, so it ends once.
    const calm = later();
    const ends = await Promise.all([
      checkErrorRate(h.vkPay.context, settings, send, calm),
      checkErrorRate(h.vkPay.context, settings, send, calm),
    ]);
    expect(ends.map((check) => check.recorded).sort()).toEqual([null, 'resolved']);
    expect((await checkErrorRate(h.vkPay.context, settings, send, calm)).sent).toBeNull();

    const rows = (await alertHistory()).slice(start);
    expect(rows.map((row) => row.kind)).toEqual(['firing', 'repeated', 'resolved']);
    const incidents = new Set(rows.map((row) => new Date(row.incident).getTime()));
    expect(incidents.size).toBe(1);
    const sent = receiver.bodies.slice(-3).map((entry) => (entry as { body: AlertMessage }).body.status);
    expect(sent).toEqual(['firing', 'firing', 'resolved']);
  });
});

describe('alert messages', () => {
  const message: AlertMessage = {
    alert: 'vkpay_error_rate',
    status: 'firing',
    rate: 0.25,
    errors: 5,
    events: 20,
    threshold: 0.1,
    windowMinutes: 5,
    byCode: [{ code: 40004, count: 5 }],
    at: '2026-11-25T12:00:00.000Z',
  };

  it('go out as JSON, or as a group robot text', () => {
    expect(alertBody(message, 'json')).toEqual(message);
    expect(alertBody(message, 'dingtalk')).toEqual({
      msgtype: 'text',
      text: {
        content:
          '【VK-Pay 支付异常告警】最近5分钟支付错误率 25.0%（5/20），超过 10%。错误码：40004×5。时间：2026-11-25T12:00:00.000Z',
      },
    });
  });

  it('sign the DingTalk robot URL with the timestamp and the secret', () => {
    const url = new URL(
      signedDingtalkUrl('https://oapi.dingtalk.com/robot/send?access_token=t', 'SEC1', 1700000000000),
    );
    expect(url.searchParams.get('access_token')).toBe('t');
    expect(url.searchParams.get('timestamp')).toBe('1700000000000');
    const expected = createHmac('sha256', 'SEC1').update('1700000000000\nSEC1').digest('base64');
    expect(url.searchParams.get('sign')).toBe(expected);
  });
});
