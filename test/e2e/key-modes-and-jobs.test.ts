import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import { syncUnpaidOrders } from '../../src/service/jobs.ts';
import { backends } from '../support/backends.ts';
import { eventually, MERCHANT, startWxpayHarness, type WxpayHarness } from './harness.ts';

let sequence = 0;
const tradeNo = (prefix: string) =>
  `${prefix}${Date.now().toString(36)}${(sequence++).toString().padStart(4, '0')}`;

describe('certificate key modes, end to end', () => {
  for (const keyMode of ['certificate', 'both'] as const) {
    describe(`WeChat Pay in ${keyMode} mode, Alipay in certificate mode`, () => {
      let h: WxpayHarness;
      beforeAll(async () => {
        h = await startWxpayHarness(backends[0]!, { keyMode, alipayKeyMode: 'certificate' });
      });
      afterAll(async () => {
        await h?.close();
      });
      const status = (no: string) =>
        h.vkPay.store.db
          .selectFrom('payment_orders')
          .select('status')
          .where('out_trade_no', '=', no)
          .executeTakeFirstOrThrow();

      /** An Alipay QR payment, scanned and paid on the emulator, then paid here through its notification. */
      const alipayPaid = async (no: string, totalFen: number) => {
        await h.vkPay.pay({
          merchantId: MERCHANT,
          provider: 'alipay',
          scene: 'native',
          out_trade_no: no,
          total_fee: totalFen,
          subject: '证书模式',
          type: 'goods',
        });
        await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/scan`);
        await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/pay`);
        expect(
          (
            await eventually(
              () => status(no),
              (r) => r.status === 'SUCCESS',
            )
          ).status,
        ).toBe('SUCCESS');
      };

      it('pays and refunds through verified, certificate-signed answers and notifications', async () => {
        const wx = tradeNo('WC');
        await h.vkPay.pay({
          merchantId: MERCHANT,
          provider: 'wxpay',
          scene: 'native',
          out_trade_no: wx,
          total_fee: 500,
          subject: '证书模式',
          type: 'goods',
        });
        await h.control('POST', `/trades/${h.mchId}/${wx}/pay`);
        expect(
          (
            await eventually(
              () => status(wx),
              (r) => r.status === 'SUCCESS',
            )
          ).status,
        ).toBe('SUCCESS');
        const refund = await h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: wx,
          out_refund_no: `${wx}R`,
          refund_fee: 100,
        });
        expect(refund.refund.status).toBe('PROCESSING');

        const ali = tradeNo('AC');
        await alipayPaid(ali, 500);
        const aliRefund = await h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: ali,
          out_refund_no: `${ali}R`,
          refund_fee: 100,
        });
        expect(aliRefund.order).toMatchObject({ status: 'PARTIAL_REFUNDED', refundedFen: 100 });
      });

      it('encrypts an abnormal refund for the key the gateway holds in this mode', async () => {
        const wx = tradeNo('WA');
        await h.vkPay.pay({
          merchantId: MERCHANT,
          provider: 'wxpay',
          scene: 'native',
          out_trade_no: wx,
          total_fee: 200,
          subject: '证书模式',
          type: 'goods',
        });
        await h.control('POST', `/trades/${h.mchId}/${wx}/pay`);
        await eventually(
          () => status(wx),
          (r) => r.status === 'SUCCESS',
        );
        await h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: wx,
          out_refund_no: `${wx}R`,
          refund_fee: 200,
        });
        await h.control('POST', `/refunds/${h.mchId}/${wx}R/abnormal`);
        const sent = await h.vkPay.applyAbnormalRefund(MERCHANT, `${wx}R`, {
          type: 'USER_BANK_CARD',
          bankType: 'CMB_DEBIT',
          bankAccount: '6225880212345678',
          realName: '李四',
        });
        expect(sent.refund.status).toBe('PROCESSING');
        expect((await h.control('GET', `/refunds/${h.mchId}/${wx}R`)).json.abnormal_recipient).toEqual({
          type: 'USER_BANK_CARD',
          bank_type: 'CMB_DEBIT',
          bank_account_last4: '5678',
          real_name: '李四',
        });
      });

      it('follows a renewed Alipay certificate: downloaded once, trusted through the root', async () => {
        const rotated = await h.alipay.control('POST', `/apps/${h.alipay.appId}/rotate-alipay-cert`);
        expect(rotated.status).toBe(200);
        const ali = tradeNo('AR');
        // The precreate answer is signed under the new SN: the provider fetches the certificate;
        // the notification, signed with the new key, verifies with the learnt certificate.
        await alipayPaid(ali, 300);
        expect((await h.vkPay.queryPayment(MERCHANT, ali)).orderPaid).toBe(true);

        // An answer under an SN Alipay never issued cannot be trusted: 40003, nothing applied.
        await h.alipay.control('POST', '/faults', {
          kind: 'wrongCertSn',
          appId: h.alipay.appId,
          method: 'alipay.trade.precreate',
        });
        const forged = tradeNo('AF');
        const error = await h.vkPay
          .pay({
            merchantId: MERCHANT,
            provider: 'alipay',
            scene: 'native',
            out_trade_no: forged,
            total_fee: 300,
            subject: '证书更换',
            type: 'goods',
          })
          .then(
            () => null,
            (failure: unknown) => failure,
          );
        expect(error).toBeInstanceOf(PayError);
        expect([(error as PayError).code, (error as PayError).field]).toEqual([40003, 'alipay_cert_sn']);
        expect((error as PayError).message).toContain('could not be trusted');
        await h.alipay.control('DELETE', '/faults');
      });
    });
  }
});

describe.each(backends)('the background job on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('settles unpaid orders whose callbacks were lost and closes expired ones at the gateway', async () => {
    const lost = tradeNo('JL');
    const expired = tradeNo('JE');
    const waiting = tradeNo('JW');
    for (const no of [lost, waiting]) {
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 300,
        subject: '对账',
        type: 'goods',
      });
    }
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: expired,
      total_fee: 300,
      subject: '过期订单',
      type: 'goods',
      expireAt: new Date(Date.now() + 1500),
    });
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      mchid: h.mchId,
      outTradeNo: lost,
      times: 'always',
    });
    await h.control('POST', `/trades/${h.mchId}/${lost}/pay`);
    await new Promise((resolve) => setTimeout(resolve, 1700));

    const report = await syncUnpaidOrders(h.vkPay.context, {
      minAgeMs: 0,
      maxAgeMs: 3_600_000,
      batchSize: 50,
    });
    expect(report).toMatchObject({ paid: 1, closed: 1, failed: 0 });
    expect(report.checked).toBeGreaterThanOrEqual(3);
    const statuses = await h.vkPay.store.db
      .selectFrom('payment_orders')
      .select(['out_trade_no', 'status'])
      .where('out_trade_no', 'in', [lost, expired, waiting])
      .execute();
    expect(Object.fromEntries(statuses.map((row) => [row.out_trade_no, row.status]))).toEqual({
      [lost]: 'SUCCESS',
      [expired]: 'CLOSED',
      [waiting]: 'NOTPAY',
    });
    await h.control('DELETE', '/faults');
  });
});
