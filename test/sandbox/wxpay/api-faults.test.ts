import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../../src/sandbox/wxpay/index.ts';
import {
  authorizationHeader,
  buildSandbox,
  nativeOrder,
  registerMerchant,
  type SandboxUnderTest,
  signedCall,
  type TestMerchant,
  verifyGatewaySignature,
} from './support/merchant-client.ts';

let sandbox: SandboxUnderTest;
let merchant: TestMerchant;

beforeAll(async () => {
  sandbox = await buildSandbox();
  merchant = await registerMerchant(sandbox.app);
});
afterAll(() => sandbox.app.close());
beforeEach(async () => {
  await sandbox.app.inject({ method: 'DELETE', url: '/sandbox/faults' });
});

const addFault = async (fault: Record<string, unknown>) => {
  const response = await sandbox.app.inject({ method: 'POST', url: '/sandbox/faults', payload: fault });
  expect(response.statusCode).toBe(200);
  return response.json();
};
const prepay = (order = nativeOrder(merchant)) =>
  signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);

describe('API faults', () => {
  it('frequencyLimited answers 429 FREQUENCY_LIMITED for the next N matching requests only', async () => {
    await addFault({ kind: 'frequencyLimited', mchid: merchant.mchid, operation: 'prepay', times: 2 });
    const order = nativeOrder(merchant);
    const first = await prepay(order);
    expect(first.status).toBe(429);
    expect(first.json()).toEqual({ code: 'FREQUENCY_LIMITED', message: '请求频率超限，请降低请求频率' });
    expect(verifyGatewaySignature(merchant, first.headers, first.body)).toBe(true);
    expect((await prepay(order)).status).toBe(429);
    expect(sandbox.gateway.trades.find(merchant.mchid, order.out_trade_no as string)).toBeUndefined();
    expect((await prepay(order)).status).toBe(200);
  });

  it('systemError answers 500 SYSTEM_ERROR; with afterHandling the order exists anyway', async () => {
    await addFault({ kind: 'systemError', operation: 'prepay', afterHandling: true });
    const order = nativeOrder(merchant);
    const response = await prepay(order);
    expect(response.status).toBe(500);
    expect(response.json().code).toBe('SYSTEM_ERROR');
    expect(sandbox.gateway.trades.find(merchant.mchid, order.out_trade_no as string)?.tradeState).toBe(
      'NOTPAY',
    );
    // Retrying with the same parameters, as WeChat advises, returns the order.
    expect((await prepay(order)).status).toBe(200);
  });

  it('badGateway answers a proxy-style 502 HTML page without WeChat headers', async () => {
    await addFault({ kind: 'badGateway' });
    const response = await prepay();
    expect(response.status).toBe(502);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.body).toContain('502 Bad Gateway');
    expect(response.headers['wechatpay-signature']).toBeUndefined();
  });

  it('targets one order only', async () => {
    const target = nativeOrder(merchant);
    await addFault({ kind: 'systemError', outTradeNo: target.out_trade_no });
    expect((await prepay()).status).toBe(200);
    expect((await prepay(target)).status).toBe(500);
  });

  it('delay slows the answer by the given milliseconds', async () => {
    await addFault({ kind: 'delay', delayMs: 120 });
    const started = Date.now();
    expect((await prepay()).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
  });

  it('signTest, staleTimestamp and unknownSerial produce responses a verifying client must reject', async () => {
    for (const kind of ['signTest', 'staleTimestamp', 'unknownSerial']) {
      await addFault({ kind });
      const response = await prepay();
      expect(response.status).toBe(200);
      expect(verifyGatewaySignature(merchant, response.headers, response.body)).toBe(false);
    }
    const clean = await prepay();
    expect(verifyGatewaySignature(merchant, clean.headers, clean.body)).toBe(true);
  });

  it('lists active faults and rejects unknown kinds', async () => {
    await addFault({ kind: 'hang', operation: 'close', times: 'always' });
    const listed = (await sandbox.app.inject({ url: '/sandbox/faults' })).json();
    expect(listed).toMatchObject([{ kind: 'hang', operation: 'close', remaining: 'always', used: 0 }]);
    const bad = await sandbox.app.inject({
      method: 'POST',
      url: '/sandbox/faults',
      payload: { kind: 'explode' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('PARAM_ERROR');
  });
});

describe('hang fault over a real socket', () => {
  let running: RunningWxpaySandbox;
  let socketMerchant: TestMerchant;

  beforeAll(async () => {
    running = await startWxpaySandbox({ timeFactor: 0.001 });
    socketMerchant = await registerMerchant(running.app);
  });
  afterAll(() => running.close());

  it('never answers, so the client times out, yet the order was created (afterHandling)', async () => {
    await running.app.inject({
      method: 'POST',
      url: '/sandbox/faults',
      payload: { kind: 'hang', afterHandling: true },
    });
    const order = nativeOrder(socketMerchant);
    const body = JSON.stringify(order);
    const path = '/v3/pay/transactions/native';
    await expect(
      request(`${running.url}${path}`, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          authorization: authorizationHeader(socketMerchant, 'POST', path, body),
        },
        headersTimeout: 200,
      }),
    ).rejects.toThrow(/timeout/i);
    expect(running.gateway.trades.find(socketMerchant.mchid, order.out_trade_no as string)?.tradeState).toBe(
      'NOTPAY',
    );
  });

  it('close() returns even with a hung request open', async () => {
    const other = await startWxpaySandbox();
    const otherMerchant = await registerMerchant(other.app);
    await other.app.inject({ method: 'POST', url: '/sandbox/faults', payload: { kind: 'hang' } });
    const path = `/v3/pay/transactions/out-trade-no/X000001?mchid=${otherMerchant.mchid}`;
    const pending = request(`${other.url}${path}`, {
      headers: { authorization: authorizationHeader(otherMerchant, 'GET', path, '') },
    }).catch((error: Error) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await other.close();
    expect(await pending).toBeInstanceOf(Error);
  });
});
