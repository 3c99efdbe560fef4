/**
 * Conformance with the official alipay-sdk (v4): its requests pass our verification, it verifies
 * our response signatures, and it accepts our notifications and return_url parameters, in both
 * key modes.
 */
import { AlipaySdk } from 'alipay-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  generateAppKeys,
  type NotifyReceiver,
  startNotifyReceiver,
  waitFor,
} from './helpers.ts';

function sdkFormFields(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form action="([^"]+)"/.exec(html)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)" \/>/g)) {
    fields[match[1]!] = match[2]!.replace(/&quot;/g, '"');
  }
  return { action, fields };
}

function actionOf(html: string, action: string): string {
  const match = new RegExp(`<form method="post" action="([^"]+/${action})"`).exec(html);
  if (!match) throw new Error(`no ${action} button in page`);
  return match[1]!;
}

for (const keyMode of ['publicKey', 'certificate'] as const) {
  describe(`alipay-sdk against the emulator (${keyMode} mode)`, () => {
    let sandbox: RunningAlipaySandbox;
    let sdk: AlipaySdk;
    let receiver: NotifyReceiver;
    let appId: string;

    beforeAll(async () => {
      sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
      receiver = await startNotifyReceiver();
      const keys = generateAppKeys();
      const { json } = await controlJson<Record<string, string>>(`${sandbox.controlUrl}/apps`, {
        keyMode,
        appPublicKey: keys.publicKeyPem,
      });
      appId = json.appId!;
      const common = { appId, privateKey: keys.privateKeyPem, gateway: sandbox.gatewayUrl };
      sdk =
        keyMode === 'publicKey'
          ? new AlipaySdk({ ...common, alipayPublicKey: json.alipayPublicKeyBase64! })
          : new AlipaySdk({
              ...common,
              appCertContent: json.appCert!,
              alipayPublicCertContent: json.alipayCert!,
              alipayRootCertContent: json.alipayRootCert!,
            });
    });
    afterAll(async () => {
      await receiver.close();
      await sandbox.close();
    });

    it('exec: precreate, scan and pay on the payer page, query and refund, with response signatures verified', async () => {
      const outTradeNo = `SDK-QR-${keyMode}`;
      const precreate = await sdk.exec(
        'alipay.trade.precreate',
        { notifyUrl: receiver.url, bizContent: { outTradeNo, totalAmount: '12.34', subject: 'SDK QR' } },
        { validateSign: true },
      );
      expect(precreate).toMatchObject({ code: '10000', outTradeNo });
      const notYet = await sdk.exec(
        'alipay.trade.query',
        { bizContent: { outTradeNo } },
        { validateSign: true },
      );
      expect(notYet.subCode).toBe('ACQ.TRADE_NOT_EXIST');

      const page = await (await fetch(precreate.qrCode as string)).text();
      expect(page).toContain('12.34');
      const paid = await fetch(new URL(actionOf(page, 'pay'), sandbox.url), { method: 'POST' });
      expect(paid.status).toBe(200);

      const query = await sdk.exec(
        'alipay.trade.query',
        { bizContent: { outTradeNo } },
        { validateSign: true },
      );
      expect(query).toMatchObject({ code: '10000', tradeStatus: 'TRADE_SUCCESS', totalAmount: '12.34' });
      const refund = await sdk.exec(
        'alipay.trade.refund',
        { bizContent: { outTradeNo, refundAmount: '2.34', outRequestNo: 'R1' } },
        { validateSign: true },
      );
      expect(refund).toMatchObject({ code: '10000', fundChange: 'Y', refundFee: '2.34' });

      const notifications = await waitFor(
        () =>
          receiver.received.filter((entry) => entry.params.out_trade_no === outTradeNo).length >= 2 &&
          receiver.received.filter((entry) => entry.params.out_trade_no === outTradeNo),
      );
      for (const notification of notifications) {
        expect(sdk.checkNotifySign(notification.params)).toBe(true);
        expect(sdk.checkNotifySignV2(notification.params)).toBe(true);
        expect(sdk.checkNotifySignV2({ ...notification.params, total_amount: '99.99' })).toBe(false);
      }
    });

    it('exec: a bad response signature makes the SDK fail verification', async () => {
      await controlJson(`${sandbox.controlUrl}/faults`, {
        kind: 'badSignature',
        appId,
        method: 'alipay.trade.query',
      });
      await expect(
        sdk.exec('alipay.trade.query', { bizContent: { outTradeNo: 'whatever' } }, { validateSign: true }),
      ).rejects.toThrow(/验签失败/);
      const after = await sdk.exec(
        'alipay.trade.query',
        { bizContent: { outTradeNo: 'whatever' } },
        { validateSign: true },
      );
      expect(after.subCode).toBe('ACQ.TRADE_NOT_EXIST');
    });

    it('pageExecute POST form opens the cashier; paying redirects to return_url with parameters the SDK verifies', async () => {
      const outTradeNo = `SDK-PAGE-${keyMode}`;
      const html = sdk.pageExecute('alipay.trade.page.pay', 'POST', {
        bizContent: {
          outTradeNo,
          totalAmount: '0.50',
          subject: 'Page',
          productCode: 'FAST_INSTANT_TRADE_PAY',
        },
        returnUrl: 'https://merchant.example/return?from=alipay',
        notifyUrl: receiver.url,
      });
      const { action, fields } = sdkFormFields(html);
      const cashier = await fetch(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
      const cashierHtml = await cashier.text();
      expect(cashierHtml).toContain(outTradeNo);
      const paid = await fetch(new URL(actionOf(cashierHtml, 'pay'), sandbox.url), {
        method: 'POST',
        redirect: 'manual',
      });
      expect(paid.status).toBe(302);
      const location = new URL(paid.headers.get('location')!);
      expect(location.origin + location.pathname).toBe('https://merchant.example/return');
      const returned = Object.fromEntries(location.searchParams);
      expect(returned).toMatchObject({
        from: 'alipay',
        out_trade_no: outTradeNo,
        method: 'alipay.trade.page.pay.return',
      });
      const { from: _from, ...signed } = returned;
      expect(sdk.checkNotifySign(signed)).toBe(true);
      expect(sdk.checkNotifySign({ ...signed, total_amount: '0.01' })).toBe(false);
    });

    it('pageExecute GET link opens the wap cashier', async () => {
      const url = sdk.pageExecute('alipay.trade.wap.pay', 'GET', {
        bizContent: {
          outTradeNo: `SDK-WAP-${keyMode}`,
          totalAmount: '3.00',
          subject: 'Wap',
          productCode: 'QUICK_WAP_WAY',
        },
      });
      const response = await fetch(url);
      expect(response.headers.get('content-type')).toContain('text/html');
      const text = await response.text();
      expect(text).toContain('data-total-amount="3.00"');
      expect(text).toContain('alipay.trade.wap.pay');
    });

    it('sdkExecute order string opens in the payer page standing in for the Alipay app', async () => {
      const outTradeNo = `SDK-APP-${keyMode}`;
      const orderString = sdk.sdkExecute('alipay.trade.app.pay', {
        notifyUrl: receiver.url,
        bizContent: { outTradeNo, totalAmount: '6.66', subject: 'App', productCode: 'QUICK_MSECURITY_PAY' },
      });
      const opened = await fetch(`${sandbox.controlUrl}/app`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ order_string: orderString }).toString(),
        redirect: 'manual',
      });
      expect(opened.status).toBe(303);
      const page = await (await fetch(new URL(opened.headers.get('location')!, sandbox.url))).text();
      await fetch(new URL(actionOf(page, 'pay'), sandbox.url), { method: 'POST' });
      const notification = await waitFor(() =>
        receiver.received.find((entry) => entry.params.out_trade_no === outTradeNo),
      );
      expect(notification.params.trade_status).toBe('TRADE_SUCCESS');
      expect(sdk.checkNotifySignV2(notification.params)).toBe(true);

      const tampered = orderString.replace('6.66', '0.01');
      const rejected = await controlJson(`${sandbox.controlUrl}/app-orders`, { orderString: tampered });
      expect(rejected.json).toMatchObject({ sub_code: 'isv.invalid-signature' });
    });
  });
}
