import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSandbox,
  nativeOrder,
  registerMerchant,
  type SandboxUnderTest,
  signedCall,
  type TestMerchant,
} from './support/merchant-client.ts';

let sandbox: SandboxUnderTest;
let merchant: TestMerchant;
let nowMs = Date.now();

beforeAll(async () => {
  sandbox = await buildSandbox({ clock: { now: () => nowMs } });
  merchant = await registerMerchant(sandbox.app);
});
afterAll(() => sandbox.app.close());

const query = (outTradeNo: string) =>
  signedCall(
    sandbox.app,
    merchant,
    'GET',
    `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${merchant.mchid}`,
  );
const close = (outTradeNo: string) =>
  signedCall(sandbox.app, merchant, 'POST', `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`, {
    mchid: merchant.mchid,
  });
const control = (url: string, payload: Record<string, unknown> = {}) =>
  sandbox.app.inject({ method: 'POST', url, payload });

async function createNative(overrides: Record<string, unknown> = {}) {
  const order = nativeOrder(merchant, overrides);
  const response = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);
  expect(response.status).toBe(200);
  return order.out_trade_no as string;
}

describe('prepay per product', () => {
  it('JSAPI needs payer.openid and answers a prepay_id', async () => {
    const order = nativeOrder(merchant);
    const missing = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/jsapi', order);
    expect(missing.status).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'PARAM_ERROR', detail: { field: 'payer/openid' } });
    const ok = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/jsapi', {
      ...order,
      payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    });
    expect(ok.status).toBe(200);
    expect(ok.json().prepay_id).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
  });

  it('APP answers a prepay_id without payer', async () => {
    const response = await signedCall(
      sandbox.app,
      merchant,
      'POST',
      '/v3/pay/transactions/app',
      nativeOrder(merchant),
    );
    expect(response.status).toBe(200);
    expect(Object.keys(response.json())).toEqual(['prepay_id']);
  });

  it('H5 needs scene_info.payer_client_ip and h5_info and answers an h5_url to the payer page', async () => {
    const order = nativeOrder(merchant);
    const noScene = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/h5', order);
    expect(noScene.json()).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: 'scene_info/payer_client_ip' },
    });
    const noH5Info = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/h5', {
      ...order,
      scene_info: { payer_client_ip: '14.23.150.211' },
    });
    expect(noH5Info.json()).toMatchObject({ code: 'PARAM_ERROR', detail: { field: 'scene_info/h5_info' } });
    const ok = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/h5', {
      ...order,
      scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'Wap' } },
    });
    expect(ok.status).toBe(200);
    expect(ok.json().h5_url).toMatch(
      /^http:\/\/localhost(:\d+)?\/sandbox\/payer\/h5\?prepay_id=wx\w+&package=\d{10}$/,
    );
  });

  it('rejects a bad amount, an appid of another merchant and a notify_url with a query', async () => {
    const bad = async (overrides: Record<string, unknown>) =>
      (
        await signedCall(
          sandbox.app,
          merchant,
          'POST',
          '/v3/pay/transactions/native',
          nativeOrder(merchant, overrides),
        )
      ).json();
    expect(await bad({ amount: { total: 1.5 } })).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: 'amount/total' },
    });
    expect(await bad({ amount: { total: 0 } })).toMatchObject({ code: 'PARAM_ERROR' });
    expect(await bad({ appid: 'wx0000000000000000' })).toMatchObject({ code: 'APPID_MCHID_NOT_MATCH' });
    expect(await bad({ notify_url: 'https://m.example/n?a=1' })).toMatchObject({ code: 'PARAM_ERROR' });
    expect(await bad({ out_trade_no: 'abc' })).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: 'out_trade_no' },
    });
    expect(await bad({ mchid: '1111111111' })).toMatchObject({ code: 'INVALID_REQUEST' });
  });
});

describe('out_trade_no reuse', () => {
  it('returns the same prepay_id for the same content and 400 INVALID_REQUEST for different content', async () => {
    const order = nativeOrder(merchant);
    const first = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/app', order);
    const again = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/app', { ...order });
    expect(again.json().prepay_id).toBe(first.json().prepay_id);
    const changed = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/app', {
      ...order,
      amount: { total: 101, currency: 'CNY' },
    });
    expect(changed.status).toBe(400);
    expect(changed.json()).toMatchObject({ code: 'INVALID_REQUEST', message: '201 商户订单号重复' });
  });

  it('gives a new prepay_id once the old one is two hours old', async () => {
    const order = nativeOrder(merchant);
    const first = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/app', order);
    nowMs += 2 * 3600_000 + 1000;
    try {
      const later = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/app', order, {
        timestamp: Math.floor(nowMs / 1000),
      });
      expect(later.status).toBe(200);
      expect(later.json().prepay_id).not.toBe(first.json().prepay_id);
    } finally {
      nowMs -= 2 * 3600_000 + 1000;
    }
  });
});

describe('trade states', () => {
  it('NOTPAY until paid, then SUCCESS with a transaction id that can be queried', async () => {
    const outTradeNo = await createNative();
    const unpaid = (await query(outTradeNo)).json();
    expect(unpaid).toMatchObject({
      trade_state: 'NOTPAY',
      trade_state_desc: '订单未支付',
      amount: { total: 100 },
    });
    expect(unpaid.transaction_id).toBeUndefined();

    const paid = await control(`/sandbox/trades/${merchant.mchid}/${outTradeNo}/pay`, { openid: 'oPayer1' });
    expect(paid.statusCode).toBe(200);
    const transaction = (await query(outTradeNo)).json();
    expect(transaction).toMatchObject({
      trade_state: 'SUCCESS',
      trade_type: 'NATIVE',
      payer: { openid: 'oPayer1' },
      amount: { total: 100, payer_total: 100, currency: 'CNY' },
    });
    expect(transaction.transaction_id).toMatch(/^\d{28}$/);
    expect(transaction.success_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);

    const byId = await signedCall(
      sandbox.app,
      merchant,
      'GET',
      `/v3/pay/transactions/id/${transaction.transaction_id}?mchid=${merchant.mchid}`,
    );
    expect(byId.json()).toEqual(transaction);
  });

  it('closing a paid order is ORDERPAID and leaves it paid', async () => {
    const outTradeNo = await createNative();
    await control(`/sandbox/trades/${merchant.mchid}/${outTradeNo}/pay`);
    const response = await close(outTradeNo);
    expect(response.status).toBe(403);
    expect(response.json().code).toBe('ORDERPAID');
    expect((await query(outTradeNo)).json().trade_state).toBe('SUCCESS');
  });

  it('closing NOTPAY answers 204 with a signed empty body; the order is CLOSED and cannot be paid', async () => {
    const outTradeNo = await createNative();
    const response = await close(outTradeNo);
    expect(response.status).toBe(204);
    expect(response.body).toBe('');
    expect(response.headers['wechatpay-signature']).toBeTruthy();
    expect((await close(outTradeNo)).status).toBe(204);
    expect((await query(outTradeNo)).json().trade_state).toBe('CLOSED');
    const pay = await control(`/sandbox/trades/${merchant.mchid}/${outTradeNo}/pay`);
    expect(pay.json().code).toBe('ORDER_CLOSED');
  });

  it('an unknown order is 404 ORDER_NOT_EXIST for query and close', async () => {
    expect((await query('MISSING0001')).json()).toEqual({ code: 'ORDER_NOT_EXIST', message: '订单不存在' });
    expect((await close('MISSING0001')).status).toBe(404);
  });

  it('past time_expire an order stays NOTPAY until closed, and can no longer be paid', async () => {
    const expireAt = new Date(nowMs + 60_000).toISOString().replace('Z', '+00:00');
    const outTradeNo = await createNative({ time_expire: expireAt });
    expect((await query(outTradeNo)).json().trade_state).toBe('NOTPAY');
    const codeToken = (await sandbox.app.inject({ url: `/sandbox/trades/${merchant.mchid}/${outTradeNo}` }))
      .json()
      .code_url.split('pr=')[1];
    nowMs += 61_000;
    try {
      const later = await signedCall(
        sandbox.app,
        merchant,
        'GET',
        `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${merchant.mchid}`,
        undefined,
        { timestamp: Math.floor(nowMs / 1000) },
      );
      // WeChat has no "expired" state: the order reads NOTPAY until the merchant closes it.
      expect(later.json()).toMatchObject({ trade_state: 'NOTPAY', trade_state_desc: '订单未支付' });
      const pay = await control(`/sandbox/trades/${merchant.mchid}/${outTradeNo}/pay`);
      expect(pay.statusCode).toBe(400);
      expect(pay.json()).toMatchObject({ code: 'ORDER_EXPIRED' });
      const page = await sandbox.app.inject({ url: `/sandbox/payer/native/${codeToken}` });
      expect(page.body).toContain('data-testid="expired"');
      expect(page.body).not.toContain('data-testid="pay"');
      const pressed = await sandbox.app.inject({
        method: 'POST',
        url: `/sandbox/payer/native/${codeToken}/pay`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      });
      expect(decodeURIComponent(String(pressed.headers.location))).toContain('ORDER_EXPIRED');
      const closed = await signedCall(
        sandbox.app,
        merchant,
        'POST',
        `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`,
        { mchid: merchant.mchid },
        { timestamp: Math.floor(nowMs / 1000) },
      );
      expect(closed.status).toBe(204);
      const after = await signedCall(
        sandbox.app,
        merchant,
        'GET',
        `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${merchant.mchid}`,
        undefined,
        { timestamp: Math.floor(nowMs / 1000) },
      );
      expect(after.json().trade_state).toBe('CLOSED');
    } finally {
      nowMs -= 61_000;
    }
  });

  it('insufficient balance keeps the order NOTPAY; a final failure makes it PAYERROR', async () => {
    const outTradeNo = await createNative();
    const failed = await control(`/sandbox/trades/${merchant.mchid}/${outTradeNo}/fail`, {
      code: 'NOT_ENOUGH',
    });
    expect(failed.json()).toMatchObject({
      last_failure: 'NOT_ENOUGH',
      transaction: { trade_state: 'NOTPAY' },
    });
    const final = await control(`/sandbox/trades/${merchant.mchid}/${outTradeNo}/fail`, {
      code: 'NOT_ENOUGH',
      final: true,
    });
    expect(final.json().transaction.trade_state).toBe('PAYERROR');
    expect((await query(outTradeNo)).json().trade_state_desc).toContain('余额不足');
  });

  it('a close during USERPAYING is 429 FREQUENCY_LIMITED', async () => {
    const outTradeNo = await createNative();
    await control(`/sandbox/trades/${merchant.mchid}/${outTradeNo}/paying`);
    expect((await query(outTradeNo)).json().trade_state).toBe('USERPAYING');
    const response = await close(outTradeNo);
    expect(response.status).toBe(429);
    expect(response.json().code).toBe('FREQUENCY_LIMITED');
  });

  it('a prepay for a paid out_trade_no is ORDERPAID', async () => {
    const order = nativeOrder(merchant);
    await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);
    await control(`/sandbox/trades/${merchant.mchid}/${order.out_trade_no}/pay`);
    const again = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);
    expect(again.json().code).toBe('ORDERPAID');
  });
});
