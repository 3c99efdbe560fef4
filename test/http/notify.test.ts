/**
 * POST /notify/:provider/:merchant over the real route and store, with callbacks this test signs as
 * each gateway would (its keys are the gateway's here), for the cases the emulators do not send:
 * resends of one event, replays of old Alipay notifications, and our own store failing.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { createAlipayProvider } from '../../src/providers/alipay/index.ts';
import { createWxpayProvider } from '../../src/providers/wxpay/index.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import {
  APP_ID as ALIPAY_APP_ID,
  merchantConfig as alipayMerchant,
  parties as alipayParties,
  SELLER_ID,
} from '../providers/alipay/support/fixtures.ts';
import { formBody, notificationSignature } from '../providers/alipay/support/signer.ts';
import {
  API_V3_KEY,
  MCH_ID,
  APP_ID as WX_APP_ID,
  parties as wxParties,
  merchantConfig as wxpayMerchant,
} from '../providers/wxpay/support/fixtures.ts';
import { sealResource, wechatpayHeaders } from '../providers/wxpay/support/signer.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT, nextTradeNo } from '../support/orders.ts';

const wx = wxParties();
const ali = alipayParties();
const clock = { now: Date.now() };
const HOUR = 3_600_000;

/** Beijing wall-clock time, as Alipay writes notify_time. */
const beijing = (ms: number) => new Date(ms + 8 * HOUR).toISOString().slice(0, 19).replace('T', ' ');

function wxpayCallback(transaction: Record<string, unknown>, id: string) {
  const nonce = randomBytes(6).toString('hex');
  const body = JSON.stringify({
    id,
    create_time: '2024-01-01T12:00:01+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: {
      original_type: 'transaction',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: sealResource(JSON.stringify(transaction), API_V3_KEY, nonce, 'transaction'),
      associated_data: 'transaction',
      nonce,
    },
  });
  return {
    headers: {
      'content-type': 'application/json',
      ...wechatpayHeaders(wx.signer, body, { timestamp: Math.floor(clock.now / 1000) }),
    },
    payload: body,
  };
}

const transaction = (outTradeNo: string, totalFen: number, transactionId: string) => ({
  appid: WX_APP_ID,
  mchid: MCH_ID,
  out_trade_no: outTradeNo,
  transaction_id: transactionId,
  trade_type: 'NATIVE',
  trade_state: 'SUCCESS',
  trade_state_desc: '支付成功',
  success_time: '2024-01-01T12:00:00+08:00',
  payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  amount: { total: totalFen, payer_total: totalFen, currency: 'CNY', payer_currency: 'CNY' },
});

function alipayCallback(fields: Record<string, string>) {
  const signed = { ...fields, sign_type: 'RSA2', sign: notificationSignature(ali.alipay.privateKey, fields) };
  return {
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    payload: formBody(signed),
  };
}

const alipayPaid = (outTradeNo: string, notifyTimeMs: number) => ({
  notify_time: beijing(notifyTimeMs),
  notify_type: 'trade_status_sync',
  notify_id: randomUUID().replace(/-/g, ''),
  charset: 'utf-8',
  version: '1.0',
  app_id: ALIPAY_APP_ID,
  trade_no: `2024${randomBytes(10).toString('hex')}`,
  out_trade_no: outTradeNo,
  seller_id: SELLER_ID,
  trade_status: 'TRADE_SUCCESS',
  total_amount: '88.80',
  gmt_payment: beijing(notifyTimeMs),
});

describe.each(backends)('gateway callback answers on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;

  beforeAll(async () => {
    vkPay = await backend.open({
      providers: [
        createWxpayProvider({
          merchants: [wxpayMerchant(wx, { merchantId: MERCHANT, baseUrl: 'http://127.0.0.1:9' })],
          now: () => clock.now,
        }),
        createAlipayProvider({
          merchants: [
            alipayMerchant(ali, { merchantId: MERCHANT, sellerId: SELLER_ID, baseUrl: 'http://127.0.0.1:9' }),
          ],
          now: () => clock.now,
        }),
      ],
    });
    app = await buildApp({ vkPay, apps: [] });
  });
  afterAll(async () => {
    await app?.close();
    await vkPay?.close();
  });

  const notify = (provider: string, callback: { headers: Record<string, string>; payload: string }) =>
    app.inject({ method: 'POST', url: `/notify/${provider}/${MERCHANT}`, ...callback });
  const order = async (provider: 'wxpay' | 'alipay', totalFen = 8880) => {
    const outTradeNo = nextTradeNo('CB');
    await vkPay.createOrder({
      merchantId: MERCHANT,
      provider,
      scene: 'native',
      out_trade_no: outTradeNo,
      total_fee: totalFen,
      subject: '回调',
      type: 'goods',
      mchId: provider === 'wxpay' ? MCH_ID : SELLER_ID,
      appId: provider === 'wxpay' ? WX_APP_ID : ALIPAY_APP_ID,
    });
    return outTradeNo;
  };
  const count = async (table: 'payment_logs' | 'payment_errors', outTradeNo: string, type?: string) => {
    let query = vkPay.store.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('out_trade_no', '=', outTradeNo);
    if (type) query = query.where('type' as never, '=', type as never);
    return Number((await query.executeTakeFirstOrThrow()).n);
  };
  const reviews = async (reference: string) =>
    (await vkPay.listReviews(MERCHANT, { status: 'ALL', limit: 500 })).filter(
      (review) => review.reference === reference,
    );
  const status = async (outTradeNo: string) => (await vkPay.getOrder(MERCHANT, outTradeNo)).status;

  it('a WeChat Pay notification id already applied is acknowledged without applying it again', async () => {
    const no = await order('wxpay');
    const paid = transaction(no, 8880, `4200${randomBytes(8).toString('hex')}`);
    const id = randomUUID();
    const first = await notify('wxpay', wxpayCallback(paid, id));
    expect(first.statusCode).toBe(204);
    expect(await count('payment_logs', no, 'apply_notify')).toBe(1);
    // WeChat Pay sends the same notification again (it missed our answer): freshly signed, same id.
    const again = await notify('wxpay', wxpayCallback(paid, id));
    expect(again.statusCode).toBe(204);
    expect(again.body).toBe('');
    expect(await count('payment_logs', no, 'apply_notify')).toBe(1);
  });

  it('a resent unapplicable notification is acknowledged every time and recorded once', async () => {
    const no = await order('wxpay', 1000);
    const transactionId = `4200${randomBytes(8).toString('hex')}`;
    const callback = () => wxpayCallback(transaction(no, 990, transactionId), `EV-${no}`);
    for (let send = 0; send < 3; send++) {
      const answer = await notify('wxpay', callback());
      expect(answer.statusCode).toBe(204);
    }
    expect(await status(no)).toBe('NOTPAY');
    expect(await count('payment_errors', no)).toBe(1);
    expect(await reviews(transactionId)).toMatchObject([
      { kind: 'unapplicable_callback', outTradeNo: no, amountFen: 990, status: 'OPEN' },
    ]);
    const events = await vkPay.store.db
      .selectFrom('payment_notify_events')
      .select(['result', 'out_trade_no'])
      .where('provider', '=', 'wxpay')
      .where('event_id', '=', `EV-${no}`)
      .execute();
    expect(events).toEqual([{ result: 'unapplicable:amount_mismatch', out_trade_no: no }]);
  });

  it('an Alipay notification older than the resend window is refused with 401 "fail" and recorded', async () => {
    const no = await order('alipay');
    const replayed = await notify('alipay', alipayCallback(alipayPaid(no, clock.now - 26 * HOUR)));
    expect(replayed.statusCode).toBe(401);
    expect(replayed.body).toBe('fail');
    expect(await status(no)).toBe('NOTPAY');
    const errors = await vkPay.store.db
      .selectFrom('payment_errors')
      .select(['code', 'message'])
      .where('provider', '=', 'alipay')
      .where('message', 'like', '%notify_time%')
      .execute();
    expect(errors).toContainEqual({ code: 40002, message: expect.stringMatching(/older than the 25 h/) });

    const fresh = await notify('alipay', alipayCallback(alipayPaid(no, clock.now - 24 * HOUR)));
    expect({ status: fresh.statusCode, body: fresh.body }).toEqual({ status: 200, body: 'success' });
    expect(await status(no)).toBe('SUCCESS');
  });

  it('an Alipay notify_id already applied is acknowledged without applying it again', async () => {
    const no = await order('alipay');
    const callback = alipayCallback(alipayPaid(no, clock.now));
    expect((await notify('alipay', callback)).body).toBe('success');
    expect(await count('payment_logs', no, 'apply_notify')).toBe(1);
    const again = await notify('alipay', callback);
    expect({ status: again.statusCode, body: again.body }).toEqual({ status: 200, body: 'success' });
    expect(await count('payment_logs', no, 'apply_notify')).toBe(1);
  });

  it('an unknown merchant answers 404 in the gateway format, counted apart from payment events', async () => {
    const before = await vkPay.store.db
      .selectFrom('payment_logs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('type', '=', 'notify')
      .executeTakeFirstOrThrow();
    const wxAnswer = await app.inject({
      method: 'POST',
      url: '/notify/wxpay/nobody',
      ...wxpayCallback(transaction('X1', 1, '4200X1'), 'EV-X1'),
    });
    expect(wxAnswer.statusCode).toBe(404);
    expect(wxAnswer.json()).toMatchObject({ code: 'FAIL' });
    const aliAnswer = await app.inject({
      method: 'POST',
      url: '/notify/alipay/nobody',
      ...alipayCallback(alipayPaid('X1', clock.now)),
    });
    expect({ status: aliAnswer.statusCode, body: aliAnswer.body }).toEqual({ status: 404, body: 'fail' });
    const after = await vkPay.store.db
      .selectFrom('payment_logs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('type', '=', 'notify')
      .executeTakeFirstOrThrow();
    // Not a payment event: no payment_logs row, so it moves no error rate; one error row per gateway.
    expect(Number(after.n) - Number(before.n)).toBe(0);
    const errors = await vkPay.store.db
      .selectFrom('payment_errors')
      .select(['provider', 'code'])
      .where('message', 'like', '%merchant "nobody"%')
      .orderBy('provider')
      .execute();
    expect(errors).toEqual([
      { provider: 'alipay', code: 40001 },
      { provider: 'wxpay', code: 40001 },
    ]);
  });

  it('our own store failing answers 5xx in the gateway format, so the gateway sends it again', async () => {
    const wxNo = await order('wxpay');
    const aliNo = await order('alipay');
    // The table every apply locks is gone: nothing about the callbacks is wrong, everything about us.
    await sql`alter table payment_orders rename to payment_orders_away`.execute(vkPay.store.db);
    try {
      const wxAnswer = await notify(
        'wxpay',
        wxpayCallback(transaction(wxNo, 8880, `4200${randomBytes(8).toString('hex')}`), randomUUID()),
      );
      expect(wxAnswer.statusCode).toBe(500);
      expect(wxAnswer.json()).toMatchObject({ code: 'FAIL' });
      const aliAnswer = await notify('alipay', alipayCallback(alipayPaid(aliNo, clock.now)));
      expect({ status: aliAnswer.statusCode, body: aliAnswer.body }).toEqual({ status: 500, body: 'fail' });
    } finally {
      await sql`alter table payment_orders_away rename to payment_orders`.execute(vkPay.store.db);
    }
    const stored = await vkPay.store.db
      .selectFrom('payment_orders')
      .select('status')
      .where('out_trade_no', 'in', [wxNo, aliNo])
      .execute();
    expect(stored).toEqual([{ status: 'NOTPAY' }, { status: 'NOTPAY' }]);
  });
});
