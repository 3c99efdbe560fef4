/**
 * Profit sharing (分账) conformance with an independent client: wechatpay-axios-plugin signs the
 * calls, encrypts the receiver's name with its own RSA-OAEP code and verifies every answer of the
 * emulator's /v3/profitsharing endpoints.
 */
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rsa, Wechatpay } from 'wechatpay-axios-plugin';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../../src/sandbox/wxpay/index.ts';
import { nativeOrder, registerMerchant, type TestMerchant } from './support/merchant-client.ts';

let running: RunningWxpaySandbox;

beforeAll(async () => {
  running = await startWxpaySandbox({ timeFactor: 0.001 });
});
afterAll(() => running.close());

// biome-ignore lint/suspicious/noExplicitAny: the plugin's chained path API is untyped.
type AnyClient = any;

function clientFor(merchant: TestMerchant): AnyClient {
  return new Wechatpay({
    mchid: merchant.mchid,
    serial: merchant.serialNo,
    privateKey: merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certs: { [merchant.credentials.publicKeyId!]: merchant.credentials.publicKeyPem! },
    baseURL: `${running.url}/`,
  });
}

const STORE = '1900008501';

describe('wechatpay-axios-plugin and the emulator profit sharing', () => {
  it('binds a receiver, splits, queries, reads the unsplit amount, returns and unfreezes', async () => {
    const merchant = await registerMerchant(running.app, 'publicKey');
    const wxpay = clientFor(merchant);
    const serial = merchant.credentials.publicKeyId!;
    const name = Rsa.encrypt('示例门店有限公司', createPublicKey(merchant.credentials.publicKeyPem!));
    const added = await wxpay.v3.profitsharing.receivers.add.post(
      { appid: merchant.appid, type: 'MERCHANT_ID', account: STORE, name, relation_type: 'STORE' },
      { headers: { 'Wechatpay-Serial': serial } },
    );
    expect(added.data).toMatchObject({ type: 'MERCHANT_ID', account: STORE, relation_type: 'STORE' });

    const order = nativeOrder(merchant, {
      amount: { total: 1000, currency: 'CNY' },
      settle_info: { profit_sharing: true },
    });
    await wxpay.v3.pay.transactions.native.post(order);
    await running.app.inject({
      method: 'POST',
      url: `/sandbox/trades/${merchant.mchid}/${order.out_trade_no}/pay`,
    });
    const paid = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: merchant.mchid },
      out_trade_no: order.out_trade_no,
    });
    const transactionId = paid.data.transaction_id as string;

    const outOrderNo = `S${order.out_trade_no}`;
    const split = await wxpay.v3.profitsharing.orders.post({
      appid: merchant.appid,
      transaction_id: transactionId,
      out_order_no: outOrderNo,
      receivers: [{ type: 'MERCHANT_ID', account: STORE, amount: 300, description: '门店分成' }],
      unfreeze_unsplit: false,
    });
    expect(split.data).toMatchObject({ out_order_no: outOrderNo, state: 'PROCESSING' });
    expect(split.data.receivers[0]).toMatchObject({ amount: 300, result: 'PENDING' });

    await running.app.inject({
      method: 'POST',
      url: `/sandbox/profitsharing/orders/${merchant.mchid}/${outOrderNo}/settle`,
    });
    const queried = await wxpay.v3.profitsharing.orders._out_order_no_.get({
      params: { transaction_id: transactionId },
      out_order_no: outOrderNo,
    });
    expect(queried.data).toMatchObject({ state: 'FINISHED', order_id: split.data.order_id });
    expect(queried.data.receivers[0].result).toBe('SUCCESS');

    const amounts = await wxpay.v3.profitsharing.transactions._transaction_id_.amounts.get({
      transaction_id: transactionId,
    });
    expect(amounts.data).toEqual({ transaction_id: transactionId, unsplit_amount: 700 });

    const returned = await wxpay.v3.profitsharing.returnOrders.post({
      out_order_no: outOrderNo,
      out_return_no: `R${order.out_trade_no}`,
      return_mchid: STORE,
      amount: 100,
      description: '回退',
    });
    expect(returned.data).toMatchObject({ result: 'PROCESSING', amount: 100, return_mchid: STORE });
    const returnQuery = await wxpay.v3.profitsharing.returnOrders._out_return_no_.get({
      params: { out_order_no: outOrderNo },
      out_return_no: `R${order.out_trade_no}`,
    });
    expect(returnQuery.data.return_id).toBe(returned.data.return_id);

    const unfrozen = await wxpay.v3.profitsharing.orders.unfreeze.post({
      transaction_id: transactionId,
      out_order_no: `U${order.out_trade_no}`,
      description: '解冻',
    });
    expect(unfrozen.data.receivers[0]).toMatchObject({ account: merchant.mchid, amount: 700 });

    const refused = await wxpay.v3.profitsharing.orders
      .post({
        appid: merchant.appid,
        transaction_id: transactionId,
        out_order_no: `S2${order.out_trade_no}`,
        receivers: [{ type: 'MERCHANT_ID', account: STORE, amount: 1, description: '门店分成' }],
        unfreeze_unsplit: false,
      })
      .catch((error: AnyClient) => error);
    expect(refused.response.status).toBe(400);
    expect(refused.response.data.code).toBe('INVALID_REQUEST');
  });
});
