/**
 * The signed transport against a local HTTP server on 127.0.0.1 whose answers are signed by the
 * independent test signer: verification from raw bytes, freshness, probes, retries, timeouts and
 * network failures.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import type { WxpayRequestEvent } from '../../../src/providers/wxpay/index.ts';
import { MCH_ID, parties, provider } from './support/fixtures.ts';
import { type ScriptedReply, startGateway, type TestGateway } from './support/gateway.ts';
import { rsaPair } from './support/keys.ts';
import { verifyAuthorization } from './support/signer.ts';

const p = parties();
const clock = { now: Date.now() };
const paid = {
  appid: 'wx8888888888888888',
  mchid: MCH_ID,
  out_trade_no: 'T20240001',
  transaction_id: '4200000001202401010000000001',
  trade_type: 'JSAPI',
  trade_state: 'SUCCESS',
  success_time: '2024-01-01T12:00:00+08:00',
  amount: { total: 100, payer_total: 100, currency: 'CNY' },
};
let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startGateway({
    key: p.signer,
    clockMs: () => clock.now,
    script: () => ({ status: 200, body: paid }),
  });
});
afterAll(() => gateway.close());
afterEach(() => {
  gateway.requests.length = 0;
  gateway.script = () => ({ status: 200, body: paid });
  clock.now = Date.now();
});

const query = (wx = provider(p, gateway.baseUrl, clock)) =>
  wx.queryPayment({ merchantId: 'm1', outTradeNo: 'T20240001' });

async function failure(promise: Promise<unknown>): Promise<PayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(PayError);
    return error as PayError;
  }
  throw new Error('expected a PayError');
}

describe('wxpay transport', () => {
  it('sends a signed request the gateway verifies, and accepts a good signed answer', async () => {
    const result = await query();
    expect(result).toMatchObject({
      status: 'SUCCESS',
      amountFen: 100,
      transactionId: paid.transaction_id,
      source: 'query',
    });
    const request = gateway.requests[0]!;
    expect(request.url).toBe(`/v3/pay/transactions/out-trade-no/T20240001?mchid=${MCH_ID}`);
    expect(verifyAuthorization(request, p.merchant.publicKey)).toMatchObject({ mchid: MCH_ID });
    expect(request.headers['wechatpay-serial']).toBe(p.signer.serial);
    expect(request.headers['user-agent']).toMatch(/vk-pay/);
    expect(request.headers.accept).toBe('application/json');
  });

  it.each<[string, ScriptedReply, number]>([
    [
      'a body changed after signing',
      { status: 200, body: paid, tamper: (b) => b.replace('"total":100', '"total":1') },
      40002,
    ],
    ['a timestamp older than 5 minutes', { status: 200, body: paid, timestampOffset: -301 }, 40002],
    ['a timestamp more than 5 minutes ahead', { status: 200, body: paid, timestampOffset: 301 }, 40002],
    [
      'a WECHATPAY/SIGNTEST/ probe',
      { status: 200, body: paid, signature: 'WECHATPAY/SIGNTEST/abcdef' },
      40002,
    ],
    ['no signature headers', { status: 200, body: paid, unsigned: true }, 40002],
    [
      'the right serial signed by another key',
      {
        status: 200,
        body: paid,
        key: { serial: 'PUB_KEY_ID_0114232134912410000000000000TEST', privateKey: rsaPair().privateKey },
      },
      40002,
    ],
    [
      'an unknown public key id',
      { status: 200, body: paid, serial: 'PUB_KEY_ID_0000000000000000000000000000OTHER' },
      40003,
    ],
    [
      'a platform serial in public-key mode',
      { status: 200, body: paid, serial: '1234567890ABCDEF1234567890ABCDEF12345678' },
      40003,
    ],
  ])('rejects %s', async (_name, reply, code) => {
    gateway.script = () => reply;
    const error = await failure(query());
    expect(error.code).toBe(code);
    expect(gateway.requests).toHaveLength(1);
  });

  it('reports a write whose 2xx answer does not verify as 40002 with outcome unknown', async () => {
    gateway.script = () => ({
      status: 200,
      body: { out_refund_no: 'RF1', status: 'PROCESSING' },
      timestampOffset: -900,
    });
    const error = await failure(
      provider(p, gateway.baseUrl, clock).refund({
        merchantId: 'm1',
        outTradeNo: 'T1',
        outRefundNo: 'RF1',
        refundFen: 1,
        totalFen: 1,
        notifyUrl: 'https://e.com/n',
      }),
    );
    expect(error).toMatchObject({ code: 40002, outcomeUnknown: true });
  });

  it('accepts a timestamp just inside the 5-minute window', async () => {
    gateway.script = () => ({ status: 200, body: paid, timestampOffset: -299 });
    await expect(query()).resolves.toMatchObject({ status: 'SUCCESS' });
  });

  it('retries 500 SYSTEM_ERROR with the same body, then succeeds', async () => {
    let calls = 0;
    gateway.script = () =>
      ++calls < 3
        ? { status: 500, body: { code: 'SYSTEM_ERROR', message: '系统错误' } }
        : {
            status: 200,
            body: {
              refund_id: 'R1',
              out_refund_no: 'RF1',
              status: 'PROCESSING',
              amount: { refund: 30, total: 100 },
            },
          };
    const events: WxpayRequestEvent[] = [];
    const wx = provider(p, gateway.baseUrl, clock, {}, { onRequest: (event) => events.push(event) });
    const result = await wx.refund({
      merchantId: 'm1',
      outTradeNo: 'T1',
      outRefundNo: 'RF1',
      refundFen: 30,
      totalFen: 100,
      notifyUrl: 'https://example.com/n',
    });
    expect(result).toMatchObject({ status: 'PROCESSING', refundFen: 30, source: 'request' });
    expect(gateway.requests).toHaveLength(3);
    expect(new Set(gateway.requests.map((r) => r.body)).size).toBe(1);
    expect(new Set(gateway.requests.map((r) => r.headers.authorization)).size).toBe(3);
    expect(events.map((e) => [e.attempt, e.httpStatus, e.errorCode])).toEqual([
      [1, 500, 40010],
      [2, 500, 40010],
      [3, 200, null],
    ]);
  });

  it('gives up after the bounded attempts and reports a 5xx write as outcome unknown', async () => {
    gateway.script = () => ({ status: 503, body: 'Service Unavailable', unsigned: true });
    const error = await failure(
      provider(p, gateway.baseUrl, clock).closePayment({ merchantId: 'm1', outTradeNo: 'T1' }),
    );
    expect(error).toMatchObject({ code: 40010, outcomeUnknown: true, gatewayCode: 'HTTP_503' });
    expect(gateway.requests).toHaveLength(3);
  });

  it('does not retry a business refusal', async () => {
    gateway.script = () => ({ status: 403, body: { code: 'NOTENOUGH', message: '余额不足' } });
    const error = await failure(query());
    expect(error).toMatchObject({ code: 40007, gatewayCode: 'NOTENOUGH', outcomeUnknown: false });
    expect(gateway.requests).toHaveLength(1);
  });

  it('rejects a signed 4xx whose signature does not verify, so a forged "not found" cannot steer the caller', async () => {
    gateway.script = () => ({
      status: 404,
      body: { code: 'ORDER_NOT_EXIST', message: 'x' },
      timestampOffset: -1000,
    });
    expect((await failure(query())).code).toBe(40002);
    gateway.script = () => ({ status: 404, body: { code: 'ORDER_NOT_EXIST', message: 'x' } });
    expect(await failure(query())).toMatchObject({ code: 40005, gatewayCode: 'ORDER_NOT_EXIST' });
  });

  it('reports a timed-out write as 40004 with outcome unknown, without resending it', async () => {
    gateway.script = () => ({ status: 200, hang: true });
    const wx = provider(p, gateway.baseUrl, clock, { timeoutMs: 150 });
    const error = await failure(
      wx.refund({
        merchantId: 'm1',
        outTradeNo: 'T1',
        outRefundNo: 'RF1',
        refundFen: 1,
        totalFen: 1,
        notifyUrl: 'https://e.com/n',
      }),
    );
    expect(error).toMatchObject({ code: 40004, outcomeUnknown: true });
    expect(gateway.requests).toHaveLength(1);
  });

  it('retries a timed-out read and reports 40004 without outcome unknown', async () => {
    gateway.script = () => ({ status: 200, hang: true });
    const error = await failure(query(provider(p, gateway.baseUrl, clock, { timeoutMs: 100 })));
    expect(error).toMatchObject({ code: 40004, outcomeUnknown: false });
    expect(gateway.requests).toHaveLength(3);
  });

  it('reports a refused connection as 40004; a write that never left is not outcome unknown', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const wx = provider(p, `http://127.0.0.1:${port}`, clock);
    expect(await failure(query(wx))).toMatchObject({ code: 40004, outcomeUnknown: false });
    expect(await failure(wx.closePayment({ merchantId: 'm1', outTradeNo: 'T1' }))).toMatchObject({
      code: 40004,
      outcomeUnknown: false,
    });
  });

  it('handles an empty 200 body and a malformed JSON body without crashing', async () => {
    gateway.script = () => ({ status: 200, body: '' });
    expect(await failure(query())).toMatchObject({ code: 50000, gatewayCode: 'MALFORMED_RESPONSE' });
    gateway.script = () => ({ status: 200, body: '{"trade_state":' });
    expect((await failure(query())).code).toBe(50000);
    gateway.script = () => ({ status: 400, body: '<html>bad gateway</html>', unsigned: true });
    expect(await failure(query())).toMatchObject({ code: 40001, gatewayCode: 'HTTP_400' });
  });

  it('keeps the private key and the APIv3 key out of errors and request events', async () => {
    gateway.script = () => ({ status: 401, body: { code: 'SIGN_ERROR', message: '错误的签名' } });
    const events: WxpayRequestEvent[] = [];
    const error = await failure(
      query(provider(p, gateway.baseUrl, clock, {}, { onRequest: (e) => events.push(e) })),
    );
    expect(error).toMatchObject({ code: 40002, gatewayCode: 'SIGN_ERROR' });
    const exposed = JSON.stringify({
      message: error.message,
      details: error.details,
      result: error.toResult(),
      events,
    });
    expect(exposed).not.toMatch(/PRIVATE KEY|vkpayTestApiV3Key/);
    expect(exposed).not.toContain(p.merchant.privatePem.split('\n')[1]);
  });
});
