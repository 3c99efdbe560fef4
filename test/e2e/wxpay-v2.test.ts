/**
 * WeChat Pay APIv2 accounts end to end: VK-Pay on a real socket, the APIv2 emulator over HTTPS
 * with its own test CA (mutual TLS for refunds), XML notifications signed with the API key and
 * refund notifications encrypted with it.
 */
import { createHash, createHmac } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import {
  createWxpayProvider,
  type WxpayAccountConfig,
  type WxpayProvider,
} from '../../src/providers/wxpay/index.ts';
import {
  type RunningWxpayV2Sandbox,
  selfSignedClientCertificate,
  startWxpayV2Sandbox,
} from '../../src/sandbox/wxpay-v2/index.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { API_APP, codeOf, eventually, MERCHANT, tradeNumbers } from './harness.ts';

const tradeNo = tradeNumbers('WV');
const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';

interface Registered {
  mchid: string;
  appids: string[];
  apiKey: string;
  signType: string;
  clientCertificate: { cert: string; key: string };
}

const md5Sign = (fields: Record<string, string>, key: string, type: 'MD5' | 'HMAC-SHA256') => {
  const text = `${Object.keys(fields)
    .filter((k) => k !== 'sign' && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&')}&key=${key}`;
  return (type === 'MD5' ? createHash('md5') : createHmac('sha256', key))
    .update(text)
    .digest('hex')
    .toUpperCase();
};

describe.each(backends)('WeChat Pay APIv2 end to end on $name', (backend) => {
  let emulator: RunningWxpayV2Sandbox;
  let vkPay: VkPay;
  let provider: WxpayProvider;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let md5: Registered;
  let hmac: Registered;
  let agent: Agent;
  const handled: string[] = [];

  const control = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await undiciFetch(`${emulator.url}/sandbox${path}`, {
      method,
      dispatcher: agent,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    emulator = await startWxpayV2Sandbox({ timeFactor: 0.001 });
    agent = new Agent({ connect: { ca: emulator.caPem } });
    md5 = (await emulator.gateway.addMerchant({ appid: 'wx2421b1c4370ec43b' })) as Registered;
    hmac = (await emulator.gateway.addMerchant({
      appid: 'wx2421b1c4370ec43c',
      signType: 'HMAC-SHA256' as const,
    })) as Registered;
    const forged = await selfSignedClientCertificate(`CN=${md5.mchid}, O=Not the test CA`);
    const common = {
      merchantId: MERCHANT,
      apiVersion: 'v2' as const,
      baseUrl: emulator.url,
      gatewayCaPems: [emulator.caPem],
      timeoutMs: 3_000,
      retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
    };
    const merchants: WxpayAccountConfig[] = [
      {
        ...common,
        mchId: md5.mchid,
        appId: md5.appids[0]!,
        apiKey: md5.apiKey,
        clientCertificate: md5.clientCertificate,
      },
      {
        ...common,
        account: 'hmac',
        mchId: hmac.mchid,
        appId: hmac.appids[0]!,
        apiKey: hmac.apiKey,
        signType: 'HMAC-SHA256' as const,
        clientCertificate: hmac.clientCertificate,
      },
      // The same merchant with a client certificate the gateway's CA never issued.
      {
        ...common,
        account: 'forgedcert',
        mchId: md5.mchid,
        appId: md5.appids[0]!,
        apiKey: md5.apiKey,
        clientCertificate: forged,
      },
      { ...common, account: 'nocert', mchId: md5.mchid, appId: md5.appids[0]!, apiKey: md5.apiKey },
    ];
    provider = createWxpayProvider({ merchants });
    vkPay = await backend.open({
      providers: [provider],
      routes: {
        [MERCHANT]: [
          {
            id: 'app-hmac',
            match: { provider: 'wxpay', scene: 'app' },
            stable: 'hmac',
            canary: 'hmac',
            share: 0,
          },
        ],
      },
    });
    vkPay.onPaid('goods', ({ order }) => {
      handled.push(order.outTradeNo);
    });
    app = await buildApp({ vkPay, apps: [API_APP] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }, 60_000);
  afterAll(async () => {
    await emulator?.close();
    await app?.close();
    await vkPay?.close();
    await agent?.close();
  });

  const pay = (no: string, scene: 'native' | 'jsapi' | 'app' = 'native', totalFee = 1000) =>
    vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene,
      out_trade_no: no,
      total_fee: totalFee,
      subject: '测试商品',
      type: 'goods',
      ...(scene === 'jsapi' ? { openid: OPENID } : {}),
    });
  const order = (no: string) => vkPay.getOrder(MERCHANT, no);
  const paid = (no: string) =>
    eventually(
      () => order(no),
      (o) => o.status === 'SUCCESS',
    );
  const notifyCount = async (no: string) =>
    (
      await vkPay.store.db
        .selectFrom('payment_notify_events')
        .select('event_id')
        .where('out_trade_no', '=', no)
        .execute()
    ).length;
  const postNotify = (body: string, account?: string) =>
    fetch(`${vkPay.context.publicUrl}/notify/wxpay/${MERCHANT}${account ? `/${account}` : ''}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body,
    });

  it('a NATIVE payment is paid on the emulator and applied once despite duplicated notifications', async () => {
    const no = tradeNo();
    const { client, order: created } = await pay(no);
    expect(created.status).toBe('NOTPAY');
    expect(client).toMatchObject({ scene: 'native', codeUrl: expect.stringMatching(/^weixin:\/\/wxpay\//) });
    expect((await control('POST', `/trades/${md5.mchid}/${no}/pay`, { duplicates: 2 })).status).toBe(200);
    expect(await paid(no)).toMatchObject({ status: 'SUCCESS', transactionId: expect.any(String) });
    const notifications = await eventually(
      async () =>
        (await control('GET', `/notifications?mchid=${md5.mchid}&out_trade_no=${no}`)).json as Array<{
          delivered: boolean;
        }>,
      (list) => list.length === 3 && list.every((n) => n.delivered),
    );
    expect(notifications.every((n) => n.delivered)).toBe(true);
    expect(handled.filter((n) => n === no)).toHaveLength(1);
    expect(await notifyCount(no)).toBe(1);
    // A replay of the genuine notification afterwards is answered SUCCESS in XML and changes nothing.
    const trade = emulator.gateway.trades.get(`${md5.mchid}/${no}`)!;
    const replay = await postNotify(
      emulator.gateway.paymentNotification(emulator.gateway.merchants.get(md5.mchid)!, trade),
    );
    expect(replay.status).toBe(200);
    expect(await replay.text()).toContain('<return_code><![CDATA[SUCCESS]]></return_code>');
    expect(handled.filter((n) => n === no)).toHaveLength(1);
  });

  it('a JSAPI payment gets an MD5 paySign over the five client fields and is paid', async () => {
    const no = tradeNo();
    const { client } = await pay(no, 'jsapi');
    expect(client).toMatchObject({ scene: 'jsapi', appId: md5.appids[0], signType: 'MD5' });
    const c = client as {
      appId: string;
      timeStamp: string;
      nonceStr: string;
      package: string;
      signType: string;
      paySign: string;
    };
    expect(c.package).toMatch(/^prepay_id=wx/);
    const { paySign, ...signed } = c as typeof c & { scene?: string };
    delete (signed as { scene?: string }).scene;
    expect(paySign).toBe(md5Sign(signed as unknown as Record<string, string>, md5.apiKey, 'MD5'));
    expect((await control('POST', `/trades/${md5.mchid}/${no}/pay`, { openid: OPENID })).status).toBe(200);
    await paid(no);
    expect(handled.filter((n) => n === no)).toHaveLength(1);
  });

  it('an APP payment on the HMAC-SHA256 account is signed for the SDK and paid through an HMAC-signed notification', async () => {
    const no = tradeNo();
    const { client, order: created } = await pay(no, 'app');
    expect(created.account).toBe('hmac');
    expect(client).toMatchObject({ scene: 'app', partnerid: hmac.mchid, package: 'Sign=WXPay' });
    const { scene: _scene, sign, ...signed } = client as unknown as Record<string, string>;
    expect(sign).toBe(md5Sign(signed, hmac.apiKey, 'MD5'));
    expect((await control('POST', `/trades/${hmac.mchid}/${no}/pay`)).status).toBe(200);
    await paid(no);
  });

  it('an H5 payment opens the gateway page (MWEB) with the payer IP; a failed payment is never SUCCESS', async () => {
    const no = tradeNo();
    const { client } = await vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'h5',
      out_trade_no: no,
      total_fee: 100,
      subject: 'H5 商品',
      type: 'goods',
      clientIp: '203.0.113.7',
    });
    expect(client).toMatchObject({
      scene: 'h5',
      h5Url: expect.stringContaining(`${emulator.url}/sandbox/payer?prepay_id=`),
    });
    expect(emulator.gateway.trades.get(`${md5.mchid}/${no}`)).toMatchObject({ tradeType: 'MWEB' });
    expect((await control('POST', `/trades/${md5.mchid}/${no}/fail`)).json).toEqual({ state: 'PAYERROR' });
    const answer = await vkPay.queryPayment(MERCHANT, no);
    expect(answer.orderPaid).toBe(false);
    expect((await order(no)).status).not.toBe('SUCCESS');
    expect(handled).not.toContain(no);
  });

  it('queries an order at the gateway: unpaid, then paid', async () => {
    const no = tradeNo();
    await pay(no);
    expect((await vkPay.queryPayment(MERCHANT, no)).orderPaid).toBe(false);
    // Paid while our notify URL is not answering: the query settles it.
    const trade = emulator.gateway.trades.get(`${md5.mchid}/${no}`)!;
    trade.notifyUrl = 'http://127.0.0.1:9/unreachable';
    await control('POST', `/trades/${md5.mchid}/${no}/pay`);
    const answer = await vkPay.queryPayment(MERCHANT, no);
    expect(answer).toMatchObject({ orderPaid: true, order: { status: 'SUCCESS' } });
    expect(handled.filter((n) => n === no)).toHaveLength(1);
  });

  it('closes an unpaid order, which can then not be paid', async () => {
    const no = tradeNo();
    await pay(no);
    expect((await vkPay.closePayment(MERCHANT, no)).status).toBe('CLOSED');
    expect((await control('POST', `/trades/${md5.mchid}/${no}/pay`)).status).toBe(400);
    expect(emulator.gateway.trades.get(`${md5.mchid}/${no}`)?.state).toBe('CLOSED');
  });

  it('refuses the same out_trade_no with other parameters, as the gateway does', async () => {
    const no = tradeNo();
    await pay(no);
    const again = provider.createPayment({
      merchantId: MERCHANT,
      outTradeNo: no,
      totalFen: 999,
      subject: '测试商品',
      scene: 'native',
      notifyUrl: `${vkPay.context.publicUrl}/notify/wxpay/${MERCHANT}`,
    });
    await expect(again).rejects.toMatchObject({ code: 40001, gatewayCode: 'INVALID_REQUEST' });
  });

  it('refunds over mutual TLS; the encrypted refund notification completes it; a query agrees', async () => {
    const no = tradeNo();
    await pay(no);
    await control('POST', `/trades/${md5.mchid}/${no}/pay`);
    await paid(no);
    const first = await vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 300,
    });
    expect(first.refund.status).toBe('PROCESSING');
    expect((await control('POST', `/refunds/${md5.mchid}/${no}R1/settle`)).status).toBe(200);
    expect(
      await eventually(
        () => order(no),
        (o) => o.refundedFen === 300,
      ),
    ).toMatchObject({ status: 'PARTIAL_REFUNDED', refundedFen: 300 });
    const queried = await vkPay.queryRefund(MERCHANT, `${no}R1`);
    expect(queried.refund).toMatchObject({ status: 'SUCCESS', refundFen: 300 });
    // The rest, then nothing more: the gateway and VK-Pay both hold the total.
    await vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R2`, refund_fee: 700 });
    await control('POST', `/refunds/${md5.mchid}/${no}R2/settle`);
    expect(
      await eventually(
        () => order(no),
        (o) => o.status === 'REFUNDED',
      ),
    ).toMatchObject({ status: 'REFUNDED', refundedFen: 1000 });
    expect(
      await codeOf(
        vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R3`, refund_fee: 1 }),
      ),
    ).toBe(40001);
  });

  it("reconciles a past day's APIv2 trade bills with the orders and refunds of each account", async () => {
    // The gateway's clock two days back: what is paid and refunded now is billed on that day.
    const day = new Date(Date.now() - 2 * 86_400_000 + 8 * 3600_000).toISOString().slice(0, 10);
    await control('POST', '/clock', { offsetMs: -2 * 86_400_000 });
    const [no, appNo] = [tradeNo(), tradeNo()];
    try {
      await pay(no, 'native', 800);
      await control('POST', `/trades/${md5.mchid}/${no}/pay`);
      await paid(no);
      await vkPay.refund({
        merchantId: MERCHANT,
        out_trade_no: no,
        out_refund_no: `${no}R1`,
        refund_fee: 200,
      });
      await control('POST', `/refunds/${md5.mchid}/${no}R1/settle`);
      await eventually(
        () => order(no),
        (o) => o.refundedFen === 200,
      );
      await pay(appNo, 'app', 500);
      await control('POST', `/trades/${hmac.mchid}/${appNo}/pay`);
      await paid(appNo);
    } finally {
      await control('POST', '/clock', { offsetMs: 0 });
    }
    const report = await vkPay.reconcile('wxpay', MERCHANT, day);
    expect(report.accounts.find((a) => a.account === 'default')).toMatchObject({
      payments: 1,
      paymentsFen: 800,
      refunds: 1,
      refundsFen: 200,
      matched: 2,
      mismatches: 0,
    });
    expect(report.accounts.find((a) => a.account === 'hmac')).toMatchObject({
      payments: 1,
      paymentsFen: 500,
      mismatches: 0,
    });
    // A day without a trade has no bill at the gateway: an empty day, not a failure.
    const empty = await vkPay.reconcile('wxpay', MERCHANT, '2026-01-01', 'hmac');
    expect(empty).toMatchObject({ payments: 0, refunds: 0, mismatches: 0 });
  });

  it('the emulator refuses a refund without the client certificate its CA issued', async () => {
    const no = tradeNo();
    await pay(no);
    await control('POST', `/trades/${md5.mchid}/${no}/pay`);
    await paid(no);
    const request = (account: string) =>
      provider.refund({
        merchantId: MERCHANT,
        account,
        outTradeNo: no,
        outRefundNo: `${no}X`,
        refundFen: 100,
        totalFen: 1000,
        notifyUrl: `${vkPay.context.publicUrl}/notify/wxpay/${MERCHANT}`,
      });
    await expect(request('forgedcert')).rejects.toMatchObject({ code: 40003 });
    await expect(request('nocert')).rejects.toMatchObject({ code: 40003 });
    expect(emulator.gateway.refunds.has(`${md5.mchid}/${no}X`)).toBe(false);
    expect(emulator.gateway.trades.get(`${md5.mchid}/${no}`)?.refundedFee).toBe(0);
  });

  it('refuses forged and tampered notifications, answering FAIL in XML, and leaves the order unpaid', async () => {
    const no = tradeNo();
    await pay(no);
    const gateway = emulator.gateway;
    const trade = gateway.trades.get(`${md5.mchid}/${no}`)!;
    // What a paid notification would say, made without paying: signed with another key.
    const genuine = gateway.paymentNotification(
      { ...gateway.merchants.get(md5.mchid)! },
      { ...trade, state: 'SUCCESS', transactionId: '4200000000000000000000001', timeEnd: '20260101120000' },
    );
    const otherKey = gateway.paymentNotification(
      { ...gateway.merchants.get(md5.mchid)!, apiKey: 'f'.repeat(32) },
      { ...trade, state: 'SUCCESS', transactionId: '4200000000000000000000002', timeEnd: '20260101120000' },
    );
    const tampered = genuine.replace(/<total_fee>\d+<\/total_fee>/, '<total_fee>1</total_fee>');
    expect(tampered).not.toBe(genuine);
    const unsigned = genuine.replace(/<sign>.*?<\/sign>/, '');
    const doctype = `<!DOCTYPE xml [<!ENTITY e "x">]>${genuine}`;
    for (const body of [otherKey, tampered, unsigned, doctype]) {
      const answer = await postNotify(body);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect(await answer.text()).toContain('<return_code><![CDATA[FAIL]]></return_code>');
    }
    // A refund notification whose req_info was not made with this account's key.
    const forgedRefund = `<xml><return_code>SUCCESS</return_code><mch_id>${md5.mchid}</mch_id><appid>${md5.appids[0]}</appid><nonce_str>n</nonce_str><req_info>${Buffer.alloc(64, 7).toString('base64')}</req_info></xml>`;
    expect((await postNotify(forgedRefund)).status).toBe(401);
    // A genuine notification of the HMAC account sent to the MD5 account's URL does not verify there.
    expect(await order(no)).toMatchObject({ status: 'NOTPAY' });
    expect(await notifyCount(no)).toBe(0);
  });
});
