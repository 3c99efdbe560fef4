/**
 * Conformance of the APIv2 emulator with an independent client: wechatpay-axios-plugin's APIv2
 * client signs its XML requests with its own code (MD5 or HMAC-SHA256 with the API key), verifies
 * every answer's sign before handing it over, and presents the merchant's client certificate for
 * /secapi; its AES-256-ECB helper opens the emulator's encrypted refund notification.
 */
import { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aes, Hash, Transformer, Wechatpay } from 'wechatpay-axios-plugin';
import { type RunningWxpayV2Sandbox, startWxpayV2Sandbox } from '../../../src/sandbox/wxpay-v2/index.ts';

let running: RunningWxpayV2Sandbox;

beforeAll(async () => {
  running = await startWxpayV2Sandbox({ timeFactor: 0.001 });
});
afterAll(() => running.close());

// biome-ignore lint/suspicious/noExplicitAny: the plugin's chained path API is untyped.
type AnyClient = any;

interface Merchant {
  mchid: string;
  appids: string[];
  apiKey: string;
  signType: string;
  clientCertificate: { cert: string; key: string };
}

async function addMerchant(signType: 'MD5' | 'HMAC-SHA256'): Promise<Merchant> {
  return running.gateway.addMerchant({ signType }) as Promise<Merchant>;
}

/** The plugin's client: APIv2 only (its APIv3 half is given a throwaway key it never uses). */
function clientFor(merchant: Merchant): AnyClient {
  return new Wechatpay({
    mchid: merchant.mchid,
    serial: 'UNUSED',
    privateKey: merchant.clientCertificate.key,
    certs: { UNUSED_PLATFORM: merchant.clientCertificate.cert },
    secret: merchant.apiKey,
    merchant: { ...merchant.clientCertificate, ca: running.caPem },
    baseURL: `${running.url}/`,
    httpsAgent: new Agent({ ca: running.caPem }),
  });
}

function outNo(prefix: string): string {
  return `${prefix}${Date.now()}${Math.floor(Math.random() * 1e6)}`;
}

describe.each(['MD5', 'HMAC-SHA256'] as const)('wechatpay-axios-plugin APIv2 with %s', (signType) => {
  it('orders, queries, pays, refunds over mutual TLS and queries the refund, every answer verified', async () => {
    const merchant = await addMerchant(signType);
    const wxpay = clientFor(merchant);
    const out_trade_no = outNo('CONF');
    const common = {
      appid: merchant.appids[0],
      mch_id: merchant.mchid,
      ...(signType === 'HMAC-SHA256' ? { sign_type: 'HMAC-SHA256' } : {}),
    };

    const ordered = await wxpay.v2.pay.unifiedorder.post({
      ...common,
      body: '会员月卡',
      out_trade_no,
      total_fee: '888',
      spbill_create_ip: '127.0.0.1',
      notify_url: 'https://merchant.example/notify',
      trade_type: 'NATIVE',
      product_id: 'vip-month',
    });
    expect(ordered.data).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      trade_type: 'NATIVE',
    });
    expect(ordered.data.code_url).toMatch(/^weixin:\/\//);
    expect(ordered.data.sign).toHaveLength(signType === 'MD5' ? 32 : 64);

    const unpaid = await wxpay.v2.pay.orderquery.post({ ...common, out_trade_no });
    expect(unpaid.data).toMatchObject({ trade_state: 'NOTPAY', out_trade_no });

    running.gateway.pay(merchant.mchid, out_trade_no, {});
    const paid = await wxpay.v2.pay.orderquery.post({ ...common, out_trade_no });
    expect(paid.data).toMatchObject({ trade_state: 'SUCCESS', total_fee: '888', out_trade_no });
    expect(paid.data.transaction_id).toMatch(/^\d+$/);

    const out_refund_no = outNo('CONFR');
    const refunded = await wxpay.v2.secapi.pay.refund.post(
      { ...common, out_trade_no, out_refund_no, total_fee: '888', refund_fee: '300' },
      { security: true },
    );
    expect(refunded.data).toMatchObject({ result_code: 'SUCCESS', out_refund_no, refund_fee: '300' });

    const queried = await wxpay.v2.pay.refundquery.post({ ...common, out_refund_no });
    expect(queried.data).toMatchObject({ out_refund_no_0: out_refund_no, refund_fee_0: '300' });
  });

  it('answers a request the client signed with a wrong key with a FAIL the client refuses', async () => {
    const merchant = await addMerchant(signType);
    const wrong = clientFor({ ...merchant, apiKey: 'k'.repeat(32) });
    await expect(
      wrong.v2.pay.orderquery.post({
        appid: merchant.appids[0],
        mch_id: merchant.mchid,
        out_trade_no: outNo('WRONG'),
        ...(signType === 'HMAC-SHA256' ? { sign_type: 'HMAC-SHA256' } : {}),
      }),
    ).rejects.toMatchObject({ response: { data: { return_code: 'FAIL', return_msg: '签名错误' } } });
  });
});

describe('wechatpay-axios-plugin APIv2 secapi and notifications', () => {
  it('refuses a refund without the client certificate, and one with a certificate of another merchant', async () => {
    const merchant = await addMerchant('MD5');
    const other = await addMerchant('MD5');
    const out_trade_no = outNo('CERT');
    const common = { appid: merchant.appids[0], mch_id: merchant.mchid };
    const wxpay = clientFor(merchant);
    await wxpay.v2.pay.unifiedorder.post({
      ...common,
      body: 'goods',
      out_trade_no,
      total_fee: '100',
      spbill_create_ip: '127.0.0.1',
      notify_url: 'https://merchant.example/notify',
      trade_type: 'NATIVE',
      product_id: 'p1',
    });
    running.gateway.pay(merchant.mchid, out_trade_no, {});
    const refund = {
      ...common,
      out_trade_no,
      out_refund_no: outNo('R'),
      total_fee: '100',
      refund_fee: '100',
    };
    // No `security`: the plugin sends no client certificate.
    await expect(wxpay.v2.secapi.pay.refund.post(refund)).rejects.toMatchObject({
      response: { data: { return_code: 'FAIL', return_msg: '证书验证失败' } },
    });
    const borrowed = clientFor({ ...merchant, clientCertificate: other.clientCertificate });
    await expect(borrowed.v2.secapi.pay.refund.post(refund, { security: true })).rejects.toMatchObject({
      response: { data: { return_code: 'FAIL', return_msg: '证书验证失败' } },
    });
  });

  it("the refund notification's req_info opens with the plugin's AES-256-ECB under MD5(API key)", async () => {
    const merchant = await addMerchant('HMAC-SHA256');
    const wxpay = clientFor(merchant);
    const common = { appid: merchant.appids[0], mch_id: merchant.mchid, sign_type: 'HMAC-SHA256' };
    const out_trade_no = outNo('ECB');
    const received: string[] = [];
    const { createServer } = await import('node:http');
    const listener = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push(body);
        response.setHeader('content-type', 'text/xml');
        response.end('<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>');
      });
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const address = listener.address() as { port: number };
    const notifyUrl = `http://127.0.0.1:${address.port}/notify`;
    try {
      await wxpay.v2.pay.unifiedorder.post({
        ...common,
        body: 'goods',
        out_trade_no,
        total_fee: '500',
        spbill_create_ip: '127.0.0.1',
        notify_url: notifyUrl,
        trade_type: 'NATIVE',
        product_id: 'p1',
      });
      running.gateway.pay(merchant.mchid, out_trade_no, {});
      const out_refund_no = outNo('ECBR');
      await wxpay.v2.secapi.pay.refund.post(
        {
          ...common,
          out_trade_no,
          out_refund_no,
          total_fee: '500',
          refund_fee: '500',
          notify_url: notifyUrl,
        },
        { security: true },
      );
      running.gateway.settleRefund(merchant.mchid, out_refund_no, 'SUCCESS');
      await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);

      const payment = Transformer.toObject(received[0]!) as Record<string, string>;
      expect(payment).toMatchObject({ out_trade_no, result_code: 'SUCCESS', total_fee: '500' });
      expect(Hash.equals(Hash.sign(Hash.ALGO_HMAC_SHA256, payment, merchant.apiKey), payment.sign!)).toBe(
        true,
      );

      const refund = Transformer.toObject(received.find((body) => body.includes('req_info'))!) as Record<
        string,
        string
      >;
      const opened = Transformer.toObject(
        Aes.AesEcb.decrypt(refund.req_info!, Hash.md5(merchant.apiKey)),
      ) as Record<string, string>;
      expect(opened).toMatchObject({
        out_refund_no,
        out_trade_no,
        refund_status: 'SUCCESS',
        refund_fee: '500',
      });
    } finally {
      listener.close();
    }
  });
});
