/**
 * The emulator's partner mode (服务商) on the wire: a service provider acts only for the
 * sub-merchants authorised under it, with their bound sub_appids and the partner payer fields; a
 * sub-merchant's trades are its own; sub-merchants and their trades survive a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSandbox,
  registerMerchant,
  type SandboxUnderTest,
  signedCall,
  type TestMerchant,
} from './support/merchant-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-wxpay-partner-'));
let sandbox: SandboxUnderTest;
let sp: TestMerchant;
let otherSp: TestMerchant;
const SUB_A = '1800000101';
const SUB_B = '1800000102';
const SUB_OF_OTHER = '1800000201';
let sequence = 0;

const subMerchant = (body: Record<string, unknown>) =>
  sandbox.app.inject({ method: 'POST', url: '/sandbox/sub-merchants', payload: body });

beforeAll(async () => {
  sandbox = await buildSandbox();
  await sandbox.gateway.persistTo(join(dir, 'wxpay.json'));
  sp = await registerMerchant(sandbox.app, 'publicKey');
  otherSp = await registerMerchant(sandbox.app, 'publicKey');
  expect(
    (await subMerchant({ spMchid: sp.mchid, subMchid: SUB_A, subAppid: 'wxa000000000000001' })).statusCode,
  ).toBe(200);
  expect((await subMerchant({ spMchid: sp.mchid, subMchid: SUB_B })).statusCode).toBe(200);
  expect((await subMerchant({ spMchid: otherSp.mchid, subMchid: SUB_OF_OTHER })).statusCode).toBe(200);
});
afterAll(async () => {
  await sandbox?.app.close();
  rmSync(dir, { recursive: true, force: true });
});

const prepay = (merchant: TestMerchant, fields: Record<string, unknown>, product = 'native') =>
  signedCall(sandbox.app, merchant, 'POST', `/v3/pay/partner/transactions/${product}`, {
    sp_appid: merchant.appid,
    sp_mchid: merchant.mchid,
    description: '服务商商品',
    out_trade_no: `PS${Date.now()}${++sequence}`,
    notify_url: 'https://merchant.example/notify',
    amount: { total: 100, currency: 'CNY' },
    ...fields,
  });

describe('the WeChat Pay emulator in partner mode', () => {
  it('refuses sub-merchants not authorised under the signer, unbound sub_appids and direct payer fields', async () => {
    const foreign = await prepay(sp, { sub_mchid: SUB_OF_OTHER });
    expect(foreign.status).toBe(400);
    expect(foreign.json()).toMatchObject({
      code: 'INVALID_REQUEST',
      message: expect.stringContaining('受理关系不存在'),
    });
    expect((await prepay(sp, { sub_mchid: '1800009999' })).json().code).toBe('INVALID_REQUEST');
    expect((await prepay(sp, {})).json()).toMatchObject({ code: 'PARAM_ERROR' });
    expect((await prepay(sp, { sub_mchid: SUB_B, sp_mchid: otherSp.mchid })).json().code).toBe(
      'INVALID_REQUEST',
    );
    expect((await prepay(sp, { sub_mchid: SUB_B, sub_appid: 'wxa000000000000001' })).json().code).toBe(
      'APPID_MCHID_NOT_MATCH',
    );
    const direct = await prepay(sp, { sub_mchid: SUB_A, payer: { openid: 'o1' } }, 'jsapi');
    expect(direct.status).toBe(400);
    const subOpenidWithoutSubAppid = await prepay(
      sp,
      { sub_mchid: SUB_B, payer: { sub_openid: 'o1' } },
      'jsapi',
    );
    expect(subOpenidWithoutSubAppid.json().code).toBe('INVALID_REQUEST');
    expect((await prepay(sp, { sub_mchid: SUB_B }, 'jsapi')).json().code).toBe('PARAM_ERROR');
    // A sub-merchant belongs to one service provider.
    expect((await subMerchant({ spMchid: otherSp.mchid, subMchid: SUB_A })).statusCode).toBe(400);
  });

  it("answers a sub-merchant's trade in partner fields, and to that sub-merchant only", async () => {
    const created = await prepay(
      sp,
      { sub_mchid: SUB_A, sub_appid: 'wxa000000000000001', payer: { sub_openid: 'oSub01' } },
      'jsapi',
    );
    expect(created.status).toBe(200);
    const no = sandbox.gateway.trades.all().at(-1)!.outTradeNo;
    await sandbox.app.inject({ method: 'POST', url: `/sandbox/trades/${SUB_A}/${no}/pay` });
    const own = await signedCall(
      sandbox.app,
      sp,
      'GET',
      `/v3/pay/partner/transactions/out-trade-no/${no}?sp_mchid=${sp.mchid}&sub_mchid=${SUB_A}`,
    );
    expect(own.json()).toMatchObject({
      sp_appid: sp.appid,
      sp_mchid: sp.mchid,
      sub_appid: 'wxa000000000000001',
      sub_mchid: SUB_A,
      trade_state: 'SUCCESS',
      payer: { sub_openid: 'oSub01' },
    });
    expect(own.json().mchid).toBeUndefined();
    const asB = await signedCall(
      sandbox.app,
      sp,
      'GET',
      `/v3/pay/partner/transactions/out-trade-no/${no}?sp_mchid=${sp.mchid}&sub_mchid=${SUB_B}`,
    );
    expect(asB.status).toBe(404);
    expect(asB.json().code).toBe('ORDER_NOT_EXIST');
    const byId = await signedCall(
      sandbox.app,
      sp,
      'GET',
      `/v3/pay/partner/transactions/id/${own.json().transaction_id}?sp_mchid=${sp.mchid}&sub_mchid=${SUB_B}`,
    );
    expect(byId.json().code).toBe('ORDER_NOT_EXIST');
    // Not through the direct API either, by the service provider or anyone.
    const direct = await signedCall(
      sandbox.app,
      sp,
      'GET',
      `/v3/pay/transactions/out-trade-no/${no}?mchid=${sp.mchid}`,
    );
    expect(direct.json().code).toBe('ORDER_NOT_EXIST');
    // Refunds by sub_mchid: B's refund of A's order finds no order; A's refund query under B finds none.
    const refundAsB = await signedCall(sandbox.app, sp, 'POST', '/v3/refund/domestic/refunds', {
      sub_mchid: SUB_B,
      out_trade_no: no,
      out_refund_no: `${no}R`,
      amount: { refund: 10, total: 100, currency: 'CNY' },
    });
    expect(refundAsB.status).toBe(404);
    const refund = await signedCall(sandbox.app, sp, 'POST', '/v3/refund/domestic/refunds', {
      sub_mchid: SUB_A,
      out_trade_no: no,
      out_refund_no: `${no}R`,
      notify_url: 'https://merchant.example/notify',
      amount: { refund: 10, total: 100, currency: 'CNY' },
    });
    expect(refund.status).toBe(200);
    expect(
      (await signedCall(sandbox.app, sp, 'GET', `/v3/refund/domestic/refunds/${no}R?sub_mchid=${SUB_B}`))
        .status,
    ).toBe(404);
    expect(
      (
        await signedCall(sandbox.app, sp, 'GET', `/v3/refund/domestic/refunds/${no}R?sub_mchid=${SUB_A}`)
      ).json(),
    ).toMatchObject({ status: 'PROCESSING', out_trade_no: no });
    // Another service provider cannot name A at all.
    const stranger = await signedCall(
      sandbox.app,
      otherSp,
      'GET',
      `/v3/refund/domestic/refunds/${no}R?sub_mchid=${SUB_A}`,
    );
    expect(stranger.json().code).toBe('INVALID_REQUEST');
    // The notifications name the sub-merchant and are listed under it.
    await sandbox.app.inject({ method: 'POST', url: `/sandbox/refunds/${SUB_A}/${no}R/succeed` });
    const records = (
      await sandbox.app.inject({ url: `/sandbox/notifications?mchid=${SUB_A}&out_trade_no=${no}` })
    ).json();
    expect(records.map((record: { eventType: string }) => record.eventType)).toEqual([
      'TRANSACTION.SUCCESS',
      'REFUND.SUCCESS',
    ]);
    expect(records[0].resource).toMatchObject({
      sp_mchid: sp.mchid,
      sub_mchid: SUB_A,
      payer: { sub_openid: 'oSub01' },
    });
    expect(records[1].resource).toMatchObject({ sp_mchid: sp.mchid, sub_mchid: SUB_A });
    expect(records[1].resource.mchid).toBeUndefined();
  });

  it('closes only with sp_mchid and the owning sub_mchid', async () => {
    await prepay(sp, { sub_mchid: SUB_B });
    const no = sandbox.gateway.trades.all().at(-1)!.outTradeNo;
    const close = (body: Record<string, unknown>) =>
      signedCall(sandbox.app, sp, 'POST', `/v3/pay/partner/transactions/out-trade-no/${no}/close`, body);
    expect((await close({ sp_mchid: sp.mchid, sub_mchid: SUB_A })).json().code).toBe('ORDER_NOT_EXIST');
    expect((await close({ sub_mchid: SUB_B })).json().code).toBe('PARAM_ERROR');
    expect((await close({ sp_mchid: sp.mchid, sub_mchid: SUB_B })).status).toBe(204);
  });

  it('keeps sub-merchants and partner trades across a restart', async () => {
    await prepay(sp, { sub_mchid: SUB_B });
    const no = sandbox.gateway.trades.all().at(-1)!.outTradeNo;
    await sandbox.app.close();
    sandbox = await buildSandbox();
    await sandbox.gateway.persistTo(join(dir, 'wxpay.json'));
    const query = await signedCall(
      sandbox.app,
      sp,
      'GET',
      `/v3/pay/partner/transactions/out-trade-no/${no}?sp_mchid=${sp.mchid}&sub_mchid=${SUB_B}`,
    );
    expect(query.json()).toMatchObject({ sub_mchid: SUB_B, sp_mchid: sp.mchid, trade_state: 'NOTPAY' });
    expect((await prepay(sp, { sub_mchid: SUB_OF_OTHER })).json().code).toBe('INVALID_REQUEST');
  });
});
