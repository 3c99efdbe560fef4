/**
 * One typed mapping per operation, checked over a real socket: prepay in every scene (with the
 * client parameters verified independently), queries, close, refunds and refund queries.
 */
import { createVerify } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import type { PaymentOrder } from '../../../src/providers/provider.ts';
import { APP_ID, MCH_ID, parties, provider } from './support/fixtures.ts';
import { type Script, startGateway, type TestGateway } from './support/gateway.ts';

const p = parties();
const clock = { now: Date.now() };
let gateway: TestGateway;
const wx = () => provider(p, gateway.baseUrl, clock, { appIds: { app: 'wxAPP0000000000001' } });

beforeAll(async () => {
  gateway = await startGateway({ key: p.signer, clockMs: () => clock.now, script: () => ({ status: 500 }) });
});
afterAll(() => gateway.close());
afterEach(() => {
  gateway.requests.length = 0;
});

const order = (overrides: Partial<PaymentOrder> = {}): PaymentOrder => ({
  merchantId: 'm1',
  outTradeNo: 'T20240001',
  totalFen: 1999,
  subject: '会员充值',
  scene: 'jsapi',
  openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
  clientIp: '203.0.113.7',
  notifyUrl: 'https://pay.example.com/notify/wxpay/m1',
  ...overrides,
});

const prepayScript: Script = (request) => {
  if (request.url.endsWith('/h5'))
    return {
      status: 200,
      body: { h5_url: 'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1' },
    };
  if (request.url.endsWith('/native'))
    return { status: 200, body: { code_url: 'weixin://wxpay/bizpayurl?pr=p4lpSuKzz' } };
  return { status: 200, body: { prepay_id: 'wx201410272009395522657a690389285100' } };
};

const verifies = (message: string, signature: string) =>
  createVerify('RSA-SHA256').update(message).verify(p.merchant.publicKey, signature, 'base64');
const sentBody = (index = 0) => JSON.parse(gateway.requests[index]!.body) as Record<string, unknown>;

describe('wxpay prepay', () => {
  it.each(['jsapi', 'miniprogram'] as const)(
    '%s posts payer.openid and returns a verifiable paySign',
    async (scene) => {
      gateway.script = prepayScript;
      const created = await wx().createPayment(order({ scene, expireAt: new Date('2024-01-01T04:30:00Z') }));
      expect(gateway.requests[0]!.url).toBe('/v3/pay/transactions/jsapi');
      expect(sentBody()).toEqual({
        appid: APP_ID,
        mchid: MCH_ID,
        description: '会员充值',
        out_trade_no: 'T20240001',
        notify_url: 'https://pay.example.com/notify/wxpay/m1',
        amount: { total: 1999, currency: 'CNY' },
        time_expire: '2024-01-01T12:30:00+08:00',
        payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
        scene_info: { payer_client_ip: '203.0.113.7' },
      });
      expect(created.prepayId).toBe('wx201410272009395522657a690389285100');
      const client = created.client as Extract<typeof created.client, { paySign: string }>;
      expect(client).toMatchObject({
        scene,
        appId: APP_ID,
        package: 'prepay_id=wx201410272009395522657a690389285100',
        signType: 'RSA',
      });
      expect(client.timeStamp).toBe(String(Math.floor(clock.now / 1000)));
      expect(
        verifies(`${APP_ID}\n${client.timeStamp}\n${client.nonceStr}\n${client.package}\n`, client.paySign),
      ).toBe(true);
    },
  );

  it('app uses the app appid and signs the prepayid as the fourth line', async () => {
    gateway.script = prepayScript;
    const created = await wx().createPayment(order({ scene: 'app', openid: null }));
    expect(gateway.requests[0]!.url).toBe('/v3/pay/transactions/app');
    expect(sentBody()).toMatchObject({ appid: 'wxAPP0000000000001' });
    expect(sentBody().payer).toBeUndefined();
    const client = created.client as Extract<typeof created.client, { sign: string }>;
    expect(client).toMatchObject({
      scene: 'app',
      appid: 'wxAPP0000000000001',
      partnerid: MCH_ID,
      package: 'Sign=WXPay',
    });
    expect(
      verifies(
        `wxAPP0000000000001\n${client.timestamp}\n${client.noncestr}\n${client.prepayid}\n`,
        client.sign,
      ),
    ).toBe(true);
    expect(
      verifies(`wxAPP0000000000001\n${client.timestamp}\n${client.noncestr}\nSign=WXPay\n`, client.sign),
    ).toBe(false);
  });

  it('h5 sends scene_info with the payer IP and h5_info, keeping caller h5_info fields', async () => {
    gateway.script = prepayScript;
    const created = await wx().createPayment(
      order({
        scene: 'h5',
        openid: null,
        other: { attach: 'a1', scene_info: { h5_info: { type: 'iOS', app_name: 'VK' } } },
      }),
    );
    expect(gateway.requests[0]!.url).toBe('/v3/pay/transactions/h5');
    expect(sentBody()).toMatchObject({
      attach: 'a1',
      scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'iOS', app_name: 'VK' } },
    });
    expect(created.client).toEqual({
      scene: 'h5',
      h5Url: 'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1',
    });
  });

  it('native returns the code_url; extra fields never override the mapped ones', async () => {
    gateway.script = prepayScript;
    const created = await wx().createPayment(
      order({
        scene: 'native',
        openid: null,
        clientIp: null,
        other: { mchid: 'evil', amount: { total: 1 }, goods_tag: 'G' },
      }),
    );
    expect(sentBody()).toMatchObject({
      mchid: MCH_ID,
      amount: { total: 1999, currency: 'CNY' },
      goods_tag: 'G',
    });
    expect(created.client).toEqual({ scene: 'native', codeUrl: 'weixin://wxpay/bizpayurl?pr=p4lpSuKzz' });
  });

  it.each([
    ['pc', {}, 'scene'],
    ['jsapi', { openid: null }, 'openid'],
    ['miniprogram', { openid: '' }, 'openid'],
    ['h5', { clientIp: null }, 'clientIp'],
  ] as const)(
    'rejects scene %s with %o as 40001 on field %s, sending nothing',
    async (scene, overrides, field) => {
      const error = await wx()
        .createPayment(order({ scene, ...overrides }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PayError);
      expect(error).toMatchObject({ code: 40001, field });
      expect(gateway.requests).toHaveLength(0);
    },
  );

  it('keeps the funds of an order for splitting with settle_info.profit_sharing, in prepay and codepay', async () => {
    gateway.script = prepayScript;
    await wx().createPayment(
      order({ scene: 'native', profitSharing: true, other: { settle_info: { x: 1 } } }),
    );
    expect(sentBody().settle_info).toEqual({ x: 1, profit_sharing: true });
    await wx().createPayment(order({ scene: 'native' }));
    expect(sentBody(1).settle_info).toBeUndefined();
    gateway.script = () => ({ status: 400, body: { code: 'PARAM_ERROR', message: '参数错误' } });
    await wx()
      .createPayment(order({ scene: 'micropay', authCode: '134567890123456789', profitSharing: true }))
      .catch(() => undefined);
    expect(gateway.requests[2]!.url).toBe('/v3/pay/transactions/codepay');
    expect(sentBody(2).settle_info).toEqual({ profit_sharing: true });
  });

  it('maps ORDERPAID to 40006 and an answer without prepay_id to outcome unknown', async () => {
    gateway.script = () => ({ status: 400, body: { code: 'ORDERPAID', message: '该订单已支付' } });
    expect(
      await wx()
        .createPayment(order())
        .catch((e: PayError) => [e.code, e.gatewayCode]),
    ).toEqual([40006, 'ORDERPAID']);
    gateway.script = () => ({ status: 200, body: {} });
    expect(
      await wx()
        .createPayment(order())
        .catch((e: PayError) => [e.code, e.outcomeUnknown]),
    ).toEqual([50000, true]);
  });

  it('truncates a long description to 127 characters', async () => {
    gateway.script = prepayScript;
    await wx().createPayment(order({ subject: '商'.repeat(200) }));
    expect(Array.from(sentBody().description as string)).toHaveLength(127);
  });
});

describe('wxpay query and close', () => {
  const transaction = (tradeState: string) => ({
    appid: APP_ID,
    mchid: MCH_ID,
    out_trade_no: 'T20240001',
    transaction_id: tradeState === 'NOTPAY' ? undefined : '4200000001',
    trade_state: tradeState,
    success_time: '2024-01-01T12:00:00+08:00',
    amount: { total: 1999, currency: 'CNY' },
  });

  it.each([
    ['SUCCESS', 'SUCCESS'],
    ['REFUND', 'SUCCESS'],
    ['NOTPAY', 'NOTPAY'],
    ['USERPAYING', 'USERPAYING'],
    ['ACCEPT', 'USERPAYING'],
    ['CLOSED', 'CLOSED'],
    ['REVOKED', 'CLOSED'],
    ['PAYERROR', 'FAILED'],
  ])('maps trade_state %s to %s', async (tradeState, status) => {
    gateway.script = () => ({ status: 200, body: transaction(tradeState) });
    const result = await wx().queryPayment({ merchantId: 'm1', outTradeNo: 'T20240001' });
    expect(result).toMatchObject({
      status,
      amountFen: 1999,
      mchId: MCH_ID,
      appId: APP_ID,
      source: 'query',
      provider: 'wxpay',
    });
    expect(result.paidAt === null).toBe(status !== 'SUCCESS');
  });

  it('queries by transaction_id when given, and refuses an answer about another order', async () => {
    gateway.script = () => ({ status: 200, body: transaction('SUCCESS') });
    await wx().queryPayment({ merchantId: 'm1', outTradeNo: 'T20240001', transactionId: '4200000001' });
    expect(gateway.requests[0]!.url).toBe(`/v3/pay/transactions/id/4200000001?mchid=${MCH_ID}`);
    const error = await wx()
      .queryPayment({ merchantId: 'm1', outTradeNo: 'OTHER0001', transactionId: '4200000001' })
      .catch((e: PayError) => e);
    expect(error).toMatchObject({ code: 40001, field: 'transactionId' });
  });

  it('rejects an unknown trade_state and an answer for another mchid', async () => {
    gateway.script = () => ({ status: 200, body: transaction('SOMETHING') });
    expect(
      await wx()
        .queryPayment({ merchantId: 'm1', outTradeNo: 'T20240001' })
        .catch((e: PayError) => e.code),
    ).toBe(50000);
    gateway.script = () => ({ status: 200, body: { ...transaction('SUCCESS'), mchid: '1999999999' } });
    expect(
      await wx()
        .queryPayment({ merchantId: 'm1', outTradeNo: 'T20240001' })
        .catch((e: PayError) => e.code),
    ).toBe(50000);
  });

  it('maps ORDER_NOT_EXIST to 40005', async () => {
    gateway.script = () => ({ status: 404, body: { code: 'ORDER_NOT_EXIST', message: '订单不存在' } });
    expect(
      await wx()
        .queryPayment({ merchantId: 'm1', outTradeNo: 'T20240001' })
        .catch((e: PayError) => e.code),
    ).toBe(40005);
  });

  it('closes with a 204, and treats an already closed order as closed', async () => {
    gateway.script = () => ({ status: 204 });
    await wx().closePayment({ merchantId: 'm1', outTradeNo: 'T20240001' });
    expect(gateway.requests[0]).toMatchObject({
      method: 'POST',
      url: '/v3/pay/transactions/out-trade-no/T20240001/close',
    });
    expect(sentBody()).toEqual({ mchid: MCH_ID });
    gateway.script = () => ({ status: 400, body: { code: 'ORDERCLOSED', message: '订单已关闭' } });
    await expect(wx().closePayment({ merchantId: 'm1', outTradeNo: 'T20240001' })).resolves.toBeUndefined();
    gateway.script = () => ({ status: 400, body: { code: 'ORDERPAID', message: '订单已支付' } });
    expect(
      await wx()
        .closePayment({ merchantId: 'm1', outTradeNo: 'T20240001' })
        .catch((e: PayError) => e.code),
    ).toBe(40006);
  });
});

describe('wxpay identity', () => {
  it('names the mchid and the scene appid, and refuses pc and unknown merchants', () => {
    expect(wx().identity('m1', 'jsapi')).toEqual({ mchId: MCH_ID, appId: APP_ID });
    expect(wx().identity('m1', 'app')).toEqual({ mchId: MCH_ID, appId: 'wxAPP0000000000001' });
    expect(() => wx().identity('m1', 'pc')).toThrowError(
      expect.objectContaining({ code: 40001, field: 'scene' }),
    );
    expect(() => wx().identity('nobody', 'jsapi')).toThrowError(expect.objectContaining({ code: 40001 }));
  });
});
