/**
 * What reaches the database from the merchant API: custom.user_info encrypted with the configured
 * ENCRYPTION_KEY (opened again for the merchant), and card data masked wherever it was sent.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { recordReview } from '../../src/service/reviews.ts';
import { backends } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';
import {
  API_APP,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('SD');
const ENCRYPTION_KEY = `ffffffff${'0123456789abcdef'.repeat(3)}01234567`;
const userInfo = { name: '张三', phone: '13800138000', address: '北京市朝阳区' };

describe.each(backends)('data at rest on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    const config = loadServiceConfig({
      env: { ENCRYPTION_KEY },
      cwd: mkdtempSync(join(tmpdir(), 'vkpay-sd-')),
    });
    h = await startWxpayHarness(backend, { vkPay: { sealing: config.sealing } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const api = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const response = await h.app.inject(signed(API_APP, method, url, body));
    return { status: response.statusCode, json: response.json() };
  };
  const storedOrder = (no: string) =>
    h.vkPay.store.db
      .selectFrom('payment_orders')
      .select(['custom', 'subject'])
      .where('out_trade_no', '=', no)
      .executeTakeFirstOrThrow();

  it('stores custom.user_info as ciphertext and answers it in plain text over the API', async () => {
    const no = tradeNo();
    const created = await api('POST', '/api/payments', {
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 100,
      subject: 'sealed user info',
      type: 'goods',
      custom: { user_info: userInfo, sku: 'A1' },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    expect(created.json.data.order.custom).toEqual({ user_info: userInfo, sku: 'A1' });

    const row = await storedOrder(no);
    const stored = JSON.stringify(row.custom);
    for (const plain of [userInfo.name, userInfo.phone, userInfo.address, '张', '13800'])
      expect(stored).not.toContain(plain);
    expect(row.custom).toMatchObject({
      sku: 'A1',
      user_info: {
        $sealed: 'aes-256-gcm',
        kid: expect.stringMatching(/^k[0-9a-f]{8}$/),
      },
    });

    const read = await api('GET', `/api/payments/${no}`);
    expect(read.json.data.order.custom).toEqual({ user_info: userInfo, sku: 'A1' });
  });

  it('masks card numbers in custom, the subject, a refund reason and a review note, whatever the field is called', async () => {
    const no = tradeNo();
    const created = await api('POST', '/api/payments', {
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 200,
      subject: '礼品卡 4111 1111 1111 1111',
      type: 'goods',
      custom: {
        credit_card: '4111-1111-1111-1111',
        cc_number: '5555555555554444',
        pan: '378282246310005',
        cvc: '123',
        exp_date: '12/30',
        memo: 'paid by 6011111111111117, call 13800138000',
        order_ref: 'ORD-20240101-0001',
      },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    const row = await storedOrder(no);
    expect(row.subject).toBe('礼品卡 411111******1111');
    expect(row.custom).toEqual({
      credit_card: '411111******1111',
      cc_number: '555555******4444',
      pan: '378282*****0005',
      cvc: '[redacted]',
      exp_date: '[redacted]',
      memo: 'paid by 601111******1117, call 13800138000',
      order_ref: 'ORD-20240101-0001',
    });
    const everything = JSON.stringify(row);
    for (const card of [
      '4111111111111111',
      '4111 1111',
      '5555555555554444',
      '378282246310005',
      '6011111111111117',
    ])
      expect(everything).not.toContain(card);

    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.status === 'SUCCESS',
    );
    const refunded = await api('POST', '/api/refunds', {
      out_trade_no: no,
      out_refund_no: `${no}R`,
      refund_fee: 50,
      reason: 'back to card 4111111111111111',
    });
    expect(refunded.status, JSON.stringify(refunded.json)).toBe(200);
    const refund = await h.vkPay.store.db
      .selectFrom('payment_refunds')
      .select('reason')
      .where('out_refund_no', '=', `${no}R`)
      .executeTakeFirstOrThrow();
    expect(refund.reason).toBe('back to card 411111******1111');

    const id = await recordReview(h.vkPay.context, {
      merchantId: MERCHANT,
      kind: 'second_payment',
      reference: `${no}-dup`,
      outTradeNo: no,
      provider: 'wxpay',
      amountFen: 200,
    });
    const resolved = await api('POST', `/api/reviews/${id}/resolve`, {
      note: 'refunded to 5555 5555 5555 4444 by phone',
    });
    expect(resolved.status, JSON.stringify(resolved.json)).toBe(200);
    const review = await h.vkPay.store.db
      .selectFrom('payment_reviews')
      .select('note')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(review.note).toBe('refunded to 555555******4444 by phone');
  });
});
