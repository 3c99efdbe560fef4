/**
 * The APIv2 transport against a local gateway that answers what a test tells it: an answer whose
 * sign does not verify cannot steer us, return_code and err_code land on their unified codes, and
 * SYSTEMERROR is sent again with the same bytes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWxpayProvider } from '../../../src/providers/wxpay/index.ts';
import { signV2 } from '../../../src/providers/wxpay/v2/sign.ts';
import { buildXml, parseXml } from '../../../src/providers/wxpay/v2/xml.ts';

const KEY = 'c'.repeat(32);
const MCH = '1900000109';

describe('WeChat Pay APIv2 transport', () => {
  let server: Server;
  let answer: (request: Record<string, string>) => string;
  const bodies: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        bodies.push(text);
        res.writeHead(200, { 'content-type': 'text/xml' }).end(answer(parseXml(text)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const provider = () =>
    createWxpayProvider({
      merchants: [
        {
          apiVersion: 'v2',
          merchantId: 'm1',
          mchId: MCH,
          appId: 'wx1',
          apiKey: KEY,
          signType: 'HMAC-SHA256',
          baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
        },
      ],
      sleep: async () => {},
    });
  const signed = (fields: Record<string, string>) =>
    buildXml({ ...fields, sign: signV2(fields, KEY, 'HMAC-SHA256') });
  const order = {
    merchantId: 'm1',
    outTradeNo: 'T0001',
    totalFen: 100,
    subject: '商品',
    scene: 'native' as const,
    notifyUrl: 'https://pay.example.com/notify/wxpay/m1',
  };
  const base = { return_code: 'SUCCESS', appid: 'wx1', mch_id: MCH, nonce_str: 'n', result_code: 'SUCCESS' };

  it('sends a request signed with HMAC-SHA256 that the gateway side can check', async () => {
    answer = () =>
      signed({ ...base, trade_type: 'NATIVE', prepay_id: 'wx1', code_url: 'weixin://wxpay/bizpayurl?pr=x' });
    bodies.length = 0;
    const created = await provider().createPayment(order);
    expect(created.client).toEqual({ scene: 'native', codeUrl: 'weixin://wxpay/bizpayurl?pr=x' });
    const sent = parseXml(bodies[0]!);
    expect(sent).toMatchObject({
      mch_id: MCH,
      sign_type: 'HMAC-SHA256',
      trade_type: 'NATIVE',
      total_fee: '100',
      product_id: 'T0001',
    });
    expect(sent.sign).toBe(signV2(sent, KEY, 'HMAC-SHA256'));
  });

  it('refuses an answer whose sign does not verify, as outcome unknown for a write', async () => {
    answer = () =>
      signed({ ...base, prepay_id: 'wx1', code_url: 'weixin://a' }).replace('weixin://a', 'weixin://b');
    await expect(provider().createPayment(order)).rejects.toMatchObject({
      code: 40002,
      outcomeUnknown: true,
    });
    answer = () => buildXml({ ...base, code_url: 'weixin://a' });
    await expect(provider().createPayment(order)).rejects.toMatchObject({ code: 40002 });
  });

  it('maps return_code and err_code to unified codes and resends SYSTEMERROR with the same bytes', async () => {
    answer = () => buildXml({ return_code: 'FAIL', return_msg: '签名错误' });
    await expect(provider().queryPayment({ merchantId: 'm1', outTradeNo: 'T0001' })).rejects.toMatchObject({
      code: 40002,
    });
    answer = () => buildXml({ return_code: 'FAIL', return_msg: 'XML格式错误' });
    await expect(provider().queryPayment({ merchantId: 'm1', outTradeNo: 'T0001' })).rejects.toMatchObject({
      code: 40001,
    });
    for (const [errCode, code] of [
      ['ORDERNOTEXIST', 40005],
      ['ORDERPAID', 40006],
      ['NOTENOUGH', 40007],
      ['FREQUENCY_LIMITED', 40008],
      ['NOAUTH', 40009],
    ] as const) {
      answer = () => signed({ ...base, result_code: 'FAIL', err_code: errCode });
      await expect(provider().queryPayment({ merchantId: 'm1', outTradeNo: 'T0001' })).rejects.toMatchObject({
        code,
        gatewayCode: errCode,
      });
    }
    bodies.length = 0;
    answer = () => signed({ ...base, result_code: 'FAIL', err_code: 'SYSTEMERROR' });
    await expect(provider().closePayment({ merchantId: 'm1', outTradeNo: 'T0001' })).rejects.toMatchObject({
      code: 40010,
    });
    expect(bodies).toHaveLength(3);
    expect(new Set(bodies).size).toBe(1);
  });

  it('reads a paid order and rejects an answer for another mch_id', async () => {
    answer = () =>
      signed({
        ...base,
        out_trade_no: 'T0001',
        trade_state: 'SUCCESS',
        total_fee: '100',
        transaction_id: '42',
        time_end: '20261203120000',
      });
    expect(await provider().queryPayment({ merchantId: 'm1', outTradeNo: 'T0001' })).toMatchObject({
      status: 'SUCCESS',
      amountFen: 100,
      transactionId: '42',
      paidAt: new Date('2026-12-03T04:00:00.000Z'),
    });
    answer = () =>
      signed({
        ...base,
        mch_id: '1900000999',
        out_trade_no: 'T0001',
        trade_state: 'SUCCESS',
        total_fee: '100',
      });
    await expect(provider().queryPayment({ merchantId: 'm1', outTradeNo: 'T0001' })).rejects.toMatchObject({
      code: 50000,
    });
  });
});
