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

beforeAll(async () => {
  sandbox = await buildSandbox();
  merchant = await registerMerchant(sandbox.app);
});
afterAll(() => sandbox.app.close());

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const tradeState = async (outTradeNo: string) =>
  (
    await signedCall(
      sandbox.app,
      merchant,
      'GET',
      `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${merchant.mchid}`,
    )
  ).json().trade_state;

async function nativeTrade() {
  const order = nativeOrder(merchant, { amount: { total: 1234, currency: 'CNY' } });
  const response = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);
  return { outTradeNo: order.out_trade_no as string, codeUrl: response.json().code_url as string };
}

describe('payer page', () => {
  it('resolves a code_url to a page showing the order with three buttons', async () => {
    const { outTradeNo, codeUrl } = await nativeTrade();
    const resolved = await sandbox.app.inject({
      url: `/sandbox/payer?code_url=${encodeURIComponent(codeUrl)}`,
    });
    expect(resolved.statusCode).toBe(303);
    const page = await sandbox.app.inject({ url: resolved.headers.location as string });
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain(outTradeNo);
    expect(page.body).toContain('>12.34<');
    expect(page.body).toContain('data-testid="trade-state">NOTPAY<');
    for (const action of ['pay', 'fail', 'abandon']) expect(page.body).toContain(`data-testid="${action}"`);
  });

  it('pays when the payer presses pay, and then shows no buttons', async () => {
    const { outTradeNo, codeUrl } = await nativeTrade();
    const token = new URL(codeUrl).searchParams.get('pr');
    const pressed = await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/payer/native/${token}/pay`,
      headers: form,
      payload: '',
    });
    expect(pressed.statusCode).toBe(303);
    expect(await tradeState(outTradeNo)).toBe('SUCCESS');
    const page = await sandbox.app.inject({ url: pressed.headers.location as string });
    expect(page.body).toContain('data-testid="trade-state">SUCCESS<');
    expect(page.body).not.toContain('data-testid="pay"');
  });

  it('insufficient balance leaves the order NOTPAY and tells the payer NOT_ENOUGH', async () => {
    const { outTradeNo, codeUrl } = await nativeTrade();
    const token = new URL(codeUrl).searchParams.get('pr');
    const pressed = await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/payer/native/${token}/fail`,
      headers: form,
      payload: '',
    });
    const page = await sandbox.app.inject({ url: pressed.headers.location as string });
    expect(page.body).toContain('NOT_ENOUGH');
    expect(await tradeState(outTradeNo)).toBe('NOTPAY');
  });

  it('giving up leaves the order NOTPAY', async () => {
    const { outTradeNo, codeUrl } = await nativeTrade();
    const token = new URL(codeUrl).searchParams.get('pr');
    await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/payer/native/${token}/abandon`,
      headers: form,
      payload: '',
    });
    expect(await tradeState(outTradeNo)).toBe('NOTPAY');
  });

  it('an h5_url page pays and returns to the redirect_url', async () => {
    const order = nativeOrder(merchant, {
      scene_info: { payer_client_ip: '127.0.0.1', h5_info: { type: 'Wap' } },
    });
    const created = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/h5', order);
    const h5Url = new URL(created.json().h5_url);
    const back = 'https://shop.example/return?o=1';
    const page = await sandbox.app.inject({
      url: `${h5Url.pathname}${h5Url.search}&redirect_url=${encodeURIComponent(back)}`,
    });
    expect(page.statusCode).toBe(200);
    const action = /action="([^"]+\/pay)"/.exec(page.body)![1]!;
    const pressed = await sandbox.app.inject({
      method: 'POST',
      url: action,
      headers: form,
      payload: `redirect_url=${encodeURIComponent(back)}`,
    });
    expect(pressed.headers.location).toBe(back);
    expect(await tradeState(order.out_trade_no as string)).toBe('SUCCESS');
  });

  it('a JSAPI prepay_id page works and unknown ids are 404', async () => {
    const order = nativeOrder(merchant, { payer: { openid: 'oJsapiPayer' } });
    const prepayId = (
      await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/jsapi', order)
    ).json().prepay_id;
    const page = await sandbox.app.inject({ url: `/sandbox/payer/prepay/${prepayId}` });
    expect(page.body).toContain(order.out_trade_no as string);
    expect((await sandbox.app.inject({ url: '/sandbox/payer/prepay/wxNOPE' })).statusCode).toBe(404);
  });
});
