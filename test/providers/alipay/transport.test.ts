/**
 * The signed transport against a local HTTP server on 127.0.0.1 whose answers are signed by the
 * independent test signer: verification over the raw bytes, error mapping, retries, timeouts and
 * network failures.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AlipayRequestEvent } from '../../../src/providers/alipay/index.ts';
import { APP_ID, order, parties, payError, provider } from './support/fixtures.ts';
import { type ScriptedReply, startGateway, type TestGateway } from './support/gateway.ts';
import { rsaPair } from './support/keys.ts';
import { requestVerifies } from './support/signer.ts';

const p = parties();
const paid = {
  code: '10000',
  msg: 'Success',
  trade_no: '2024010122001400000000000001',
  out_trade_no: 'T20240101000001',
  trade_status: 'TRADE_SUCCESS',
  total_amount: '88.80',
  send_pay_date: '2024-01-01 12:00:30',
};
const answer = (): ScriptedReply => ({ response: paid });
let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startGateway(p.alipay.privateKey, answer);
});
afterAll(() => gateway.close());
afterEach(() => {
  gateway.requests.length = 0;
  gateway.script = answer;
});

const query = (alipay = provider(p, gateway.url)) =>
  alipay.queryPayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' });

describe('alipay transport', () => {
  it('sends a request the gateway can verify, with the common parameters', async () => {
    await query();
    const [request] = gateway.requests;
    expect(requestVerifies(request!.params, p.app.publicKey)).toBe(true);
    expect(request!.params).toMatchObject({
      app_id: APP_ID,
      method: 'alipay.trade.query',
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      version: '1.0',
      timestamp: '2024-01-01 12:00:00',
    });
    expect(request!.biz).toEqual({ out_trade_no: 'T20240101000001' });
    // Common parameters in the URL, biz_content in the form body, as the official SDK sends them.
    expect(new URL(request!.url, 'http://x').searchParams.has('biz_content')).toBe(false);
    expect(request!.body).toMatch(/^biz_content=/);
    expect(request!.headers['content-type']).toContain('application/x-www-form-urlencoded');
  });

  it('accepts a good signed answer', async () => {
    const result = await query();
    expect(result).toMatchObject({ status: 'SUCCESS', amountFen: 8880, transactionId: paid.trade_no });
  });

  it('refuses an answer with one byte changed (40002)', async () => {
    gateway.script = () => ({ response: paid, tamper: (body) => body.replace('88.80', '88.81') });
    const error = await payError(query());
    expect(error.code).toBe(40002);
    expect(error.field).toBe('sign');
  });

  it('refuses an answer signed with another key (40002)', async () => {
    gateway.script = () => ({ response: paid, key: rsaPair().privateKey });
    expect((await payError(query())).code).toBe(40002);
  });

  it('refuses an answer without sign (40002), even an error_response', async () => {
    gateway.script = () => ({ raw: `{"alipay_trade_query_response":${JSON.stringify(paid)}}` });
    expect((await payError(query())).code).toBe(40002);
    gateway.script = () => ({
      raw: '{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"}}',
    });
    const error = await payError(query());
    expect(error.code).toBe(40002);
    expect(error.details).toMatchObject({ unverified: { subCode: 'isv.invalid-app-id' } });
  });

  it('maps a signed error_response and keeps the raw codes', async () => {
    gateway.script = () => ({
      errorResponse: true,
      response: {
        code: '40002',
        msg: 'Invalid Arguments',
        sub_code: 'isv.invalid-signature',
        sub_msg: 'app_auth_token=secret123&x',
      },
    });
    const error = await payError(query());
    expect(error.code).toBe(40002);
    expect(error.gatewayCode).toBe('isv.invalid-signature');
    expect(error.message).not.toContain('secret123');
  });

  it('maps business failures by sub_code (part E)', async () => {
    const cases: Array<[string, string, number]> = [
      ['40004', 'ACQ.TRADE_HAS_SUCCESS', 40006],
      ['40004', 'ACQ.SELLER_BALANCE_NOT_ENOUGH', 40007],
      ['40004', 'ACQ.INVALID_PARAMETER', 40001],
      ['40006', 'isv.insufficient-isv-permissions', 40009],
      ['40002', 'isv.invalid-app-cert-sn', 40003],
      ['40004', 'ACQ.TRADE_HAS_CLOSE', 50000],
    ];
    for (const [code, subCode, unified] of cases) {
      gateway.script = () => ({ response: { code, msg: 'Business Failed', sub_code: subCode } });
      const error = await payError(query());
      expect([subCode, error.code]).toEqual([subCode, unified]);
      expect(error.gatewayCode).toBe(subCode);
    }
  });

  it('retries ACQ.SYSTEM_ERROR with the very same signed request, then succeeds', async () => {
    const events: AlipayRequestEvent[] = [];
    const sleeps: number[] = [];
    let calls = 0;
    gateway.script = () => {
      calls += 1;
      return calls < 3
        ? { response: { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.SYSTEM_ERROR' } }
        : answer();
    };
    const alipay = provider(
      p,
      gateway.url,
      { retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 150 } },
      {
        onRequest: (event) => events.push(event),
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        random: () => 0.5,
      },
    );
    const result = await query(alipay);
    expect(result.status).toBe('SUCCESS');
    expect(gateway.requests).toHaveLength(3);
    expect(new Set(gateway.requests.map((r) => r.url + r.body)).size).toBe(1);
    expect(events.map((e) => [e.attempt, e.errorCode])).toEqual([
      [1, 40010],
      [2, 40010],
      [3, null],
    ]);
    // Backoff 100 then 150 (capped), with jitter in [half, full].
    expect(sleeps).toEqual([75, 112.5]);
  });

  it('retries 20000 isp.unknow-error and HTTP 5xx, and gives up after maxAttempts with 40010', async () => {
    gateway.script = () => ({
      response: { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error' },
    });
    const error = await payError(query());
    expect(error.code).toBe(40010);
    expect(gateway.requests).toHaveLength(3);
    gateway.requests.length = 0;
    gateway.script = () => ({ status: 502, raw: 'Bad Gateway' });
    expect((await payError(query())).code).toBe(40010);
    expect(gateway.requests).toHaveLength(3);
  });

  it('a system error that never clears on a write is outcomeUnknown, not failed', async () => {
    gateway.script = () => ({
      response: { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.SYSTEM_ERROR' },
    });
    const error = await payError(provider(p, gateway.url).createPayment(order()));
    expect(error.code).toBe(40010);
    expect(error.outcomeUnknown).toBe(true);
  });

  it('a timed-out write is 40004 with outcomeUnknown, and is not resent', async () => {
    gateway.script = () => ({ hang: true });
    const alipay = provider(p, gateway.url, { timeoutMs: 150 });
    const error = await payError(
      alipay.refund({
        merchantId: 'm1',
        outTradeNo: 'T20240101000001',
        outRefundNo: 'R1',
        refundFen: 100,
        totalFen: 8880,
        notifyUrl: 'https://pay.example.com/n',
      }),
    );
    expect(error.code).toBe(40004);
    expect(error.outcomeUnknown).toBe(true);
    expect(gateway.requests).toHaveLength(1);
  });

  it('a timed-out read is 40004, retried, and not outcomeUnknown', async () => {
    gateway.script = () => ({ hang: true });
    const error = await payError(query(provider(p, gateway.url, { timeoutMs: 100 })));
    expect(error.code).toBe(40004);
    expect(error.outcomeUnknown).toBe(false);
    expect(gateway.requests).toHaveLength(3);
  });

  it('connection refused is 40004; a write that never left is not outcomeUnknown', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const alipay = provider(p, `http://127.0.0.1:${port}/gateway.do`);
    const error = await payError(alipay.closePayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' }));
    expect(error.code).toBe(40004);
    expect(error.outcomeUnknown).toBe(false);
  });

  it('a malformed body is 40004 (unknown on a write), never a success', async () => {
    gateway.script = () => ({ raw: '{"alipay_trade_query_response":{"code":"10000"' });
    const error = await payError(query());
    expect(error.code).toBe(40004);
    expect(error.gatewayCode).toBe('MALFORMED_RESPONSE');
    gateway.script = () => ({ raw: '<html>oops</html>' });
    const write = await payError(provider(p, gateway.url).createPayment(order()));
    expect([write.code, write.outcomeUnknown]).toEqual([40004, true]);
  });

  it('events carry no parameters, bodies or keys', async () => {
    const events: AlipayRequestEvent[] = [];
    await query(provider(p, gateway.url, {}, { onRequest: (event) => events.push(event) }));
    expect(events).toHaveLength(1);
    const text = JSON.stringify(events);
    expect(text).not.toContain('biz_content');
    expect(text).not.toContain('PRIVATE');
    expect(events[0]).toMatchObject({
      merchantId: 'm1',
      method: 'alipay.trade.query',
      httpStatus: 200,
      traceId: 'trace-1',
    });
  });
});
