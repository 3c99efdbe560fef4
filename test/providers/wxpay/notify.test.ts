/**
 * Notifications built with wechatpay-axios-plugin's own Aes/Rsa/Formatter helpers (an independent
 * implementation) are accepted by parseNotify; tampered, stale or probing ones are rejected.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';
import { PayError } from '../../../src/core/errors.ts';
import { API_V3_KEY, APP_ID, MCH_ID, parties, provider } from './support/fixtures.ts';

const p = parties();
const clock = { now: Date.now() };
const wx = provider(p, 'http://127.0.0.1:9', clock);

const transaction = {
  appid: APP_ID,
  mchid: MCH_ID,
  out_trade_no: 'T20240001',
  transaction_id: '4200000001202401010000000001',
  trade_type: 'JSAPI',
  trade_state: 'SUCCESS',
  trade_state_desc: '支付成功',
  success_time: '2024-01-01T12:00:00+08:00',
  payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  amount: { total: 888, payer_total: 800, currency: 'CNY', payer_currency: 'CNY' },
};

interface Built {
  headers: Record<string, string>;
  body: string;
}

function build(
  eventType: string,
  resource: object,
  options: { id?: string; aad?: string; timestamp?: number; signature?: string; key?: string } = {},
): Built {
  const nonce = Formatter.nonce(12);
  const aad = options.aad ?? (eventType.startsWith('REFUND') ? 'refund' : 'transaction');
  const body = JSON.stringify({
    id: options.id ?? 'EV-2018022511223320873',
    create_time: '2024-01-01T12:00:01+08:00',
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary: '支付成功',
    resource: {
      original_type: eventType.startsWith('REFUND') ? 'refund' : 'transaction',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: Aes.AesGcm.encrypt(JSON.stringify(resource), options.key ?? API_V3_KEY, nonce, aad),
      associated_data: aad,
      nonce,
    },
  });
  const timestamp = String(options.timestamp ?? Math.floor(clock.now / 1000));
  const headerNonce = Formatter.nonce();
  const privateKey = Rsa.fromPkcs8(p.wechatpay.privatePem.replace(/-----[^-]+-----|\s/g, ''));
  return {
    body,
    headers: {
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': headerNonce,
      'wechatpay-serial': p.signer.serial,
      'wechatpay-signature':
        options.signature ?? Rsa.sign(Formatter.response(timestamp, headerNonce, body), privateKey),
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      'content-type': 'application/json',
    },
  };
}

const parse = (built: Built) => wx.parseNotify('m1', built.headers, Buffer.from(built.body));
const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 0,
    (error: unknown) => (error instanceof PayError ? error.code : -1),
  );

describe('wxpay parseNotify', () => {
  it('accepts a TRANSACTION.SUCCESS notification and maps it to a PaymentResult', async () => {
    const event = await parse(build('TRANSACTION.SUCCESS', transaction));
    expect(event.kind).toBe('payment');
    expect(event.result).toEqual({
      merchantId: 'm1',
      provider: 'wxpay',
      outTradeNo: 'T20240001',
      transactionId: '4200000001202401010000000001',
      amountFen: 888,
      status: 'SUCCESS',
      mchId: MCH_ID,
      appId: APP_ID,
      paidAt: new Date('2024-01-01T04:00:00Z'),
      eventId: 'EV-2018022511223320873',
      source: 'notify',
      raw: transaction,
    });
  });

  it.each([
    ['REFUND.SUCCESS', 'SUCCESS'],
    ['REFUND.ABNORMAL', 'ABNORMAL'],
    ['REFUND.CLOSED', 'CLOSED'],
  ])('maps %s to a RefundResult with status %s', async (eventType, status) => {
    const refund = {
      mchid: MCH_ID,
      out_trade_no: 'T20240001',
      transaction_id: '4200000001',
      out_refund_no: 'RF20240001',
      refund_id: '50000000382019052709732678859',
      refund_status: status,
      success_time: '2024-01-02T10:00:00+08:00',
      user_received_account: '招商银行信用卡0403',
      amount: { total: 888, refund: 300, payer_total: 800, payer_refund: 300 },
    };
    const event = await parse(build(eventType, refund, { id: `EV-${status}`, aad: '' }));
    expect(event).toMatchObject({
      kind: 'refund',
      result: {
        merchantId: 'm1',
        provider: 'wxpay',
        outRefundNo: 'RF20240001',
        status,
        refundFen: 300,
        eventId: `EV-${status}`,
        source: 'notify',
      },
    });
    if (status === 'SUCCESS')
      expect(event.result).toMatchObject({ successTime: new Date('2024-01-02T02:00:00Z') });
  });

  it('accepts headers in any letter case', async () => {
    const built = build('TRANSACTION.SUCCESS', transaction);
    const upper = Object.fromEntries(
      Object.entries(built.headers).map(([k, v]) => [k.replace(/(^|-)\w/g, (s) => s.toUpperCase()), v]),
    );
    await expect(parse({ ...built, headers: upper })).resolves.toMatchObject({ kind: 'payment' });
  });

  it('rejects a body tampered after signing with 40002 (property: any changed byte)', async () => {
    const built = build('TRANSACTION.SUCCESS', transaction);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: built.body.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (at, xor) => {
          const bytes = Buffer.from(built.body);
          bytes[at]! ^= xor;
          expect(await code(wx.parseNotify('m1', built.headers, bytes))).toBe(40002);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rejects stale, future, probing, unsigned and foreign-key notifications', async () => {
    const now = Math.floor(clock.now / 1000);
    expect(await code(parse(build('TRANSACTION.SUCCESS', transaction, { timestamp: now - 301 })))).toBe(
      40002,
    );
    expect(await code(parse(build('TRANSACTION.SUCCESS', transaction, { timestamp: now + 400 })))).toBe(
      40002,
    );
    expect(
      await code(parse(build('TRANSACTION.SUCCESS', transaction, { signature: 'WECHATPAY/SIGNTEST/abc' }))),
    ).toBe(40002);
    const unsigned = build('TRANSACTION.SUCCESS', transaction);
    delete unsigned.headers['wechatpay-signature'];
    expect(await code(parse(unsigned))).toBe(40002);
    const otherSerial = build('TRANSACTION.SUCCESS', transaction);
    otherSerial.headers['wechatpay-serial'] = 'PUB_KEY_ID_0000000000000000000000000000OTHER';
    expect(await code(parse(otherSerial))).toBe(40003);
  });

  it('rejects a resource encrypted with another APIv3 key, or for another mchid', async () => {
    expect(await code(parse(build('TRANSACTION.SUCCESS', transaction, { key: 'x'.repeat(32) })))).toBe(40002);
    expect(await code(parse(build('TRANSACTION.SUCCESS', { ...transaction, mchid: '1999999999' })))).toBe(
      40002,
    );
  });

  it('refuses an event type it does not handle, and an unknown merchant', async () => {
    expect(await code(parse(build('TRANSACTION.CLOSED', transaction)))).toBe(40001);
    const built = build('TRANSACTION.SUCCESS', transaction);
    expect(await code(wx.parseNotify('nobody', built.headers, Buffer.from(built.body)))).toBe(40001);
  });
});

describe('wxpay ackNotify', () => {
  it('answers 204 with no body to stop the resends, and {"code":"FAIL"} with 401, 404 or 500 otherwise', () => {
    expect(wx.ackNotify('accepted')).toEqual({ status: 204, headers: {}, body: '' });
    const refused = wx.ackNotify('refused', new PayError(40002));
    expect(refused.status).toBe(401);
    expect(refused.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(refused.body)).toEqual({ code: 'FAIL', message: '签名验证失败' });
    expect(wx.ackNotify('unknown_merchant', new PayError(40001)).status).toBe(404);
    const retry = wx.ackNotify('retry', new PayError(50000));
    expect(retry.status).toBe(500);
    expect(JSON.parse(retry.body)).toEqual({ code: 'FAIL', message: '系统错误，请联系客服' });
  });
});
