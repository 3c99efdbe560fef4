import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('request authentication', () => {
  it('accepts a correctly signed prepay and signs its answer with the merchant public key id', async () => {
    const response = await signedCall(
      sandbox.app,
      merchant,
      'POST',
      '/v3/pay/transactions/native',
      nativeOrder(merchant),
    );
    expect(response.status).toBe(200);
    expect(response.json().code_url).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=\w+$/);
    expect(response.headers['wechatpay-serial']).toBe(merchant.credentials.publicKeyId);
    expect(response.headers['wechatpay-serial']).toMatch(/^PUB_KEY_ID_\d{32}$/);
    expect(response.headers['request-id']).toBeTruthy();
    expect(verifyGatewaySignature(merchant, response.headers, response.body)).toBe(true);
  });

  it('accepts the five Authorization parameters in any order', async () => {
    const path = `/v3/pay/transactions/out-trade-no/NOPE000001?mchid=${merchant.mchid}`;
    const header = authorizationHeader(merchant, 'GET', path, '');
    const [scheme, rest] = [header.slice(0, header.indexOf(' ')), header.slice(header.indexOf(' ') + 1)];
    const reordered = `${scheme} ${rest.split(',').reverse().join(',')}`;
    const response = await sandbox.app.inject({
      method: 'GET',
      url: path,
      headers: { authorization: reordered },
    });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 'ORDER_NOT_EXIST', message: '订单不存在' });
  });

  it('rejects a body that differs from the signed one with 401 SIGN_ERROR and the sign information', async () => {
    const order = nativeOrder(merchant);
    const response = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order, {
      signedBody: JSON.stringify({ ...order, amount: { total: 1 } }),
    });
    expect(response.status).toBe(401);
    const body = response.json();
    expect(body.code).toBe('SIGN_ERROR');
    expect(body.message).toBe('错误的签名，验签失败');
    expect(body.detail.detail).toEqual({ issue: 'sign not match' });
    expect(body.detail.sign_information.method).toBe('POST');
    expect(body.detail.sign_information.url).toBe('/v3/pay/transactions/native');
    expect(body.detail.sign_information.sign_message_length).toBeGreaterThan(100);
    expect(sandbox.gateway.trades.find(merchant.mchid, order.out_trade_no as string)).toBeUndefined();
  });

  it('rejects a signature over another path (the query string is part of the string)', async () => {
    const path = `/v3/pay/transactions/out-trade-no/NOPE000002?mchid=${merchant.mchid}`;
    const response = await sandbox.app.inject({
      method: 'GET',
      url: path,
      headers: {
        authorization: authorizationHeader(
          merchant,
          'GET',
          '/v3/pay/transactions/out-trade-no/NOPE000002',
          '',
        ),
      },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('SIGN_ERROR');
  });

  it('rejects a timestamp more than five minutes old, and accepts one four minutes old', async () => {
    const path = `/v3/pay/transactions/out-trade-no/NOPE000003?mchid=${merchant.mchid}`;
    const now = Math.floor(Date.now() / 1000);
    const stale = await signedCall(sandbox.app, merchant, 'GET', path, undefined, { timestamp: now - 301 });
    expect(stale.status).toBe(401);
    expect(stale.json().detail.field).toBe('timestamp');
    const fresh = await signedCall(sandbox.app, merchant, 'GET', path, undefined, { timestamp: now - 240 });
    expect(fresh.status).toBe(404);
  });

  it('rejects an unknown merchant certificate serial', async () => {
    const response = await signedCall(
      sandbox.app,
      merchant,
      'GET',
      `/v3/pay/transactions/out-trade-no/X12345?mchid=${merchant.mchid}`,
      undefined,
      {
        serialNo: 'ABCDEF',
      },
    );
    expect(response.status).toBe(401);
    expect(response.json().detail.field).toBe('serial_no');
  });

  it('rejects a missing or malformed Authorization header', async () => {
    const missing = await sandbox.app.inject({ method: 'GET', url: '/v3/certificates' });
    expect(missing.statusCode).toBe(401);
    expect(missing.json().code).toBe('SIGN_ERROR');
    const unquoted = await sandbox.app.inject({
      method: 'GET',
      url: '/v3/certificates',
      headers: { authorization: `WECHATPAY2-SHA256-RSA2048 mchid=${merchant.mchid}` },
    });
    expect(unquoted.statusCode).toBe(401);
  });

  it('rejects a request signed by another key even with the right serial', async () => {
    const other = await registerMerchant(sandbox.app);
    const impostor: TestMerchant = { ...merchant, privateKey: other.privateKey };
    const response = await signedCall(
      sandbox.app,
      impostor,
      'POST',
      '/v3/pay/transactions/native',
      nativeOrder(merchant),
    );
    expect(response.status).toBe(401);
    // The error is still signed, because the header names a registered merchant.
    expect(verifyGatewaySignature(merchant, response.headers, response.body)).toBe(true);
  });
});
