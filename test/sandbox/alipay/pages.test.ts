import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AlipayGateway,
  alipaySandboxPlugin,
  type RunningAlipaySandbox,
  startAlipaySandbox,
} from '../../../src/sandbox/alipay/index.ts';
import { generateAppKeys, postForm, registerTestApp, signedRequest, type TestApp } from './helpers.ts';

function buttonAction(html: string, action: string): string {
  const match = new RegExp(`<form method="post" action="([^"]+/${action})"`).exec(html);
  if (!match) throw new Error(`no ${action} button`);
  return match[1]!;
}

describe('cashier and payer pages', () => {
  let sandbox: RunningAlipaySandbox;
  let app: TestApp;

  beforeAll(async () => {
    sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
    app = await registerTestApp(sandbox);
  });
  afterAll(async () => sandbox.close());

  const PRODUCT_CODES: Record<string, string> = {
    'alipay.trade.page.pay': 'FAST_INSTANT_TRADE_PAY',
    'alipay.trade.wap.pay': 'QUICK_WAP_WAY',
  };
  const openCashier = async (method: string, outTradeNo: string, extra: Record<string, unknown> = {}) => {
    const params = signedRequest(
      app.appId,
      method,
      {
        out_trade_no: outTradeNo,
        total_amount: '9.99',
        subject: '页面',
        product_code: PRODUCT_CODES[method],
        ...extra,
      },
      app.keys.privateKey,
      {
        return_url: 'https://merchant.example/done',
      },
    );
    return postForm(sandbox.gatewayUrl, params);
  };

  it('insufficient balance shows the failure and keeps the trade payable', async () => {
    const cashier = await openCashier('alipay.trade.page.pay', 'PG-1');
    const failed = await fetch(new URL(buttonAction(cashier.text, 'insufficient'), sandbox.url), {
      method: 'POST',
    });
    const html = await failed.text();
    expect(html).toContain('data-failure="ACQ.BUYER_BALANCE_NOT_ENOUGH"');
    expect(html).toContain('data-trade-status="WAIT_BUYER_PAY"');
    const paid = await fetch(new URL(buttonAction(html, 'pay'), sandbox.url), {
      method: 'POST',
      redirect: 'manual',
    });
    expect(paid.status).toBe(302);
    expect(paid.headers.get('location')).toMatch(/^https:\/\/merchant\.example\/done\?/);
  });

  it('giving up on wap goes to quit_url and leaves the trade waiting, still payable, as Alipay does', async () => {
    const cashier = await openCashier('alipay.trade.wap.pay', 'PG-2', {
      quit_url: 'https://merchant.example/quit',
    });
    const quit = await fetch(new URL(buttonAction(cashier.text, 'abandon'), sandbox.url), {
      method: 'POST',
      redirect: 'manual',
    });
    expect(quit.headers.get('location')).toBe('https://merchant.example/quit');
    expect((await app.call('alipay.trade.query', { out_trade_no: 'PG-2' })).inner.trade_status).toBe(
      'WAIT_BUYER_PAY',
    );
    await fetch(new URL(buttonAction(cashier.text, 'pay'), sandbox.url), {
      method: 'POST',
      redirect: 'manual',
    });
    expect((await app.call('alipay.trade.query', { out_trade_no: 'PG-2' })).inner.trade_status).toBe(
      'TRADE_SUCCESS',
    );
  });

  it('a badly signed page.pay shows an error page instead of the cashier', async () => {
    const params = signedRequest(
      app.appId,
      'alipay.trade.page.pay',
      { out_trade_no: 'PG-3', total_amount: '1.00', subject: 'x' },
      generateAppKeys().privateKey,
    );
    const { text } = await postForm(sandbox.gatewayUrl, params);
    expect(text).toContain('data-sub-code="isv.invalid-signature"');
    expect(text).not.toContain('data-action="pay"');
  });

  it('page.pay needs product_code FAST_INSTANT_TRADE_PAY and wap.pay QUICK_WAP_WAY', async () => {
    for (const [method, wrong] of [
      ['alipay.trade.page.pay', 'QUICK_WAP_WAY'],
      ['alipay.trade.wap.pay', 'FAST_INSTANT_TRADE_PAY'],
    ] as const) {
      for (const productCode of [undefined, wrong]) {
        const { text } = await openCashier(method, `PC-${method}-${productCode}`, {
          product_code: productCode,
        });
        expect(text, `${method} ${productCode}`).toContain('data-sub-code="ACQ.INVALID_PARAMETER"');
        expect(text).toContain('product_code');
        expect(text).not.toContain('data-action="pay"');
      }
      const { text } = await openCashier(method, `PC-${method}-ok`);
      expect(text).toContain('data-action="pay"');
    }
  });

  it('the app page opens an order string form', async () => {
    const html = await (await fetch(`${sandbox.controlUrl}/app`)).text();
    expect(html).toContain('name="order_string"');
  });
});

describe('alipaySandboxPlugin under a prefix', () => {
  it('serves gateway.do and the control API under the prefix, via inject', async () => {
    const gateway = await AlipayGateway.create({ timeFactor: 0.001 });
    const server = Fastify();
    await server.register(alipaySandboxPlugin({ gateway }), { prefix: '/alipay' });
    try {
      const keys = generateAppKeys();
      const registered = await server.inject({
        method: 'POST',
        url: '/alipay/sandbox/alipay/apps',
        payload: { appId: '2021000000000077', appPublicKey: keys.publicKeyPem },
      });
      expect(registered.json()).toMatchObject({ appId: '2021000000000077', keyMode: 'publicKey' });
      const params = signedRequest(
        '2021000000000077',
        'alipay.trade.precreate',
        { out_trade_no: 'I-1', total_amount: '1.00', subject: 'x' },
        keys.privateKey,
      );
      const response = await server.inject({
        method: 'POST',
        url: '/alipay/gateway.do',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        payload: new URLSearchParams(params).toString(),
      });
      expect(response.headers['content-type']).toContain('application/json');
      expect(response.body).toContain('\\/alipay\\/sandbox\\/alipay\\/qr\\/');
      expect(JSON.parse(response.body).alipay_trade_precreate_response.code).toBe('10000');
    } finally {
      gateway.stop();
      await server.close();
    }
  });
});
