/**
 * Profit sharing's wire mapping against the scripted local gateway: the exact biz_content of each
 * call, answers the emulator does not give (a flat notification, replenish lines, 5xx and resets),
 * and what makes a settle's outcome unknown.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APP_ID, order, parties, payError, provider, SELLER_ID } from './support/fixtures.ts';
import { type Script, startGateway, type TestGateway } from './support/gateway.ts';
import { formBody, notificationSignature } from './support/signer.ts';

const p = parties();
let gateway: TestGateway;
const ok = (fields: Record<string, unknown>) => ({ response: { code: '10000', msg: 'Success', ...fields } });
const defaultScript: Script = () => ok({});

beforeAll(async () => {
  gateway = await startGateway(p.alipay.privateKey, defaultScript);
});
afterAll(() => gateway.close());
afterEach(() => {
  gateway.requests.length = 0;
  gateway.script = defaultScript;
});

const alipay = () => provider(p, gateway.url, { sellerId: SELLER_ID });
const TRADE_NO = '2024010122001400000000000001';
const split = {
  merchantId: 'm1',
  outTradeNo: 'T20240101000001',
  transactionId: TRADE_NO,
  outSplitNo: 'S20240101000001',
  lines: [
    { type: 'ALIPAY_USER_ID' as const, account: '2088000000000101', amountFen: 1234, description: '佣金' },
    { type: 'ALIPAY_LOGON_ID' as const, account: 'shop@example.com', amountFen: 5, description: '分成' },
  ],
  finish: false,
  notifyUrl: 'https://pay.example.com/notify/alipay/m1/split',
};

describe('alipay profit sharing on the wire', () => {
  it('a profit-sharing payment adds royalty_freeze to extend_params, keeping what other passed', async () => {
    gateway.script = () => ok({ out_trade_no: 'T20240101000001', qr_code: 'https://qr.alipay.com/x' });
    await alipay().createPayment(
      order({ profitSharing: true, other: { extend_params: { sys_service_provider_id: 'P1' } } }),
    );
    await alipay().createPayment(order());
    expect(gateway.requests[0]!.biz.extend_params).toEqual({
      sys_service_provider_id: 'P1',
      royalty_freeze: 'true',
    });
    expect(gateway.requests[1]!.biz.extend_params).toBeUndefined();
    const page = await alipay().createPayment(order({ scene: 'pc', profitSharing: true }));
    const params = (page.raw as { params: Record<string, string> }).params;
    expect(JSON.parse(params.biz_content!).extend_params).toEqual({ royalty_freeze: 'true' });
  });

  it('settle: out_request_no, trade_no, royalty_parameters in yuan, royalty_finish, async mode and notify_url', async () => {
    gateway.script = () => ok({ trade_no: TRADE_NO, settle_no: '20240101000000000000000000000001' });
    const result = await alipay().profitSharing!.split(split);
    const [request] = gateway.requests;
    expect(request!.params.method).toBe('alipay.trade.order.settle');
    expect(request!.params.notify_url).toBe(split.notifyUrl);
    expect(request!.biz).toEqual({
      out_request_no: 'S20240101000001',
      trade_no: TRADE_NO,
      royalty_parameters: [
        {
          royalty_type: 'transfer',
          trans_in_type: 'userId',
          trans_in: '2088000000000101',
          amount: '12.34',
          desc: '佣金',
        },
        {
          royalty_type: 'transfer',
          trans_in_type: 'loginName',
          trans_in: 'shop@example.com',
          amount: '0.05',
          desc: '分成',
        },
      ],
      extend_params: { royalty_finish: 'false' },
      royalty_mode: 'async',
    });
    expect(result).toMatchObject({ status: 'PROCESSING', splitId: '20240101000000000000000000000001' });
  });

  it('unfreeze is a settle with royalty_finish and no lines, FINISHED', async () => {
    gateway.script = () => ok({ trade_no: TRADE_NO, settle_no: '2' });
    const result = await alipay().profitSharing!.unfreeze({
      merchantId: 'm1',
      outTradeNo: split.outTradeNo,
      transactionId: TRADE_NO,
      outSplitNo: 'U1',
      description: '完结',
      notifyUrl: split.notifyUrl,
    });
    expect(gateway.requests[0]!.biz).toMatchObject({
      out_request_no: 'U1',
      royalty_parameters: [],
      extend_params: { royalty_finish: 'true' },
    });
    expect(result).toMatchObject({ status: 'FINISHED', lines: [], splitId: '2' });
  });

  it('a split with no lines and no finish, or a zero line, is refused before any call', async () => {
    expect((await payError(alipay().profitSharing!.split({ ...split, lines: [] }))).field).toBe('lines');
    const zero = { ...split, lines: [{ ...split.lines[0]!, amountFen: 0 }] };
    expect((await payError(alipay().profitSharing!.split(zero))).field).toBe('lines[0].amount');
    expect(gateway.requests).toHaveLength(0);
  });

  it('HTTP 5xx and a reset on a settle leave the outcome unknown; a business refusal does not', async () => {
    gateway.script = () => ({ status: 502, raw: 'bad gateway' });
    expect(await payError(alipay().profitSharing!.split(split))).toMatchObject({ outcomeUnknown: true });
    gateway.script = () => ({ hang: true });
    const slow = provider(p, gateway.url, { sellerId: SELLER_ID, timeoutMs: 100 });
    expect(await payError(slow.profitSharing!.split(split))).toMatchObject({
      code: 40004,
      outcomeUnknown: true,
    });
    gateway.script = () => ({
      response: {
        code: '40004',
        msg: 'Business Failed',
        sub_code: 'ACQ.TRADE_SETTLE_ERROR',
        sub_msg: '分账失败',
      },
    });
    expect(await payError(alipay().profitSharing!.split(split))).toMatchObject({
      code: 50000,
      gatewayCode: 'ACQ.TRADE_SETTLE_ERROR',
      outcomeUnknown: false,
    });
  });

  it('the settle query leaves replenish entries out and reads FAIL as CLOSED with its code', async () => {
    gateway.script = () =>
      ok({
        out_request_no: 'S20240101000001',
        operation_dt: '2024-01-01 12:00:00',
        royalty_detail_list: [
          {
            operation_type: 'replenish',
            trans_in: '2088000000000001',
            trans_in_type: 'userId',
            amount: '1.00',
            state: 'SUCCESS',
          },
          {
            operation_type: 'transfer',
            execute_dt: '2024-01-01 12:00:05',
            trans_in: '2088000000000101',
            trans_in_type: 'userId',
            amount: '12.34',
            state: 'FAIL',
            detail_id: '77',
            error_code: 'RECEIVE_ACCOUNT_STATUS_ERROR',
          },
        ],
      });
    const result = await alipay().profitSharing!.querySplit({
      merchantId: 'm1',
      outTradeNo: split.outTradeNo,
      transactionId: TRADE_NO,
      outSplitNo: 'S20240101000001',
    });
    expect(gateway.requests[0]!.biz).toEqual({ out_request_no: 'S20240101000001', trade_no: TRADE_NO });
    expect(result).toMatchObject({ status: 'FINISHED', splitId: null, source: 'query' });
    expect(result.lines).toEqual([
      {
        type: 'ALIPAY_USER_ID',
        account: '2088000000000101',
        amountFen: 1234,
        description: '',
        result: 'CLOSED',
        failReason: 'RECEIVE_ACCOUNT_STATUS_ERROR',
        detailId: '77',
        finishedAt: new Date('2024-01-01T04:00:05Z'),
      },
    ]);
  });

  it('a refund carries refund_royalty_parameters for its splitReturns', async () => {
    gateway.script = () => ok({ trade_no: TRADE_NO, fund_change: 'Y', refund_fee: '50.00' });
    await alipay().refund({
      merchantId: 'm1',
      outTradeNo: 'T20240101000001',
      outRefundNo: 'R1',
      refundFen: 5000,
      totalFen: 8880,
      notifyUrl: 'https://pay.example.com/notify',
      splitReturns: [{ type: 'ALIPAY_USER_ID', account: '2088000000000101', amountFen: 1234 }],
    });
    expect(gateway.requests[0]!.biz.refund_royalty_parameters).toEqual([
      { royalty_type: 'transfer', trans_out: '2088000000000101', trans_out_type: 'userId', amount: '12.34' },
    ]);
    const wrongType = await payError(
      alipay().refund({
        merchantId: 'm1',
        outTradeNo: 'T20240101000001',
        outRefundNo: 'R2',
        refundFen: 5000,
        totalFen: 8880,
        notifyUrl: 'https://pay.example.com/notify',
        splitReturns: [{ type: 'MERCHANT_ID', account: '1900000109', amountFen: 1 }],
      }),
    );
    expect(wrongType.field).toBe('split_returns[0].type');
  });

  it('a flat settle notification (royalty_detail_list as JSON) reads like the message form; a stale one is refused', async () => {
    const fields = {
      notify_time: '2024-01-01 12:00:31',
      notify_id: 'n-1',
      msg_method: 'alipay.trade.order.settle.notify',
      charset: 'utf-8',
      app_id: APP_ID,
      out_request_no: 'S20240101000001',
      trade_no: TRADE_NO,
      settle_no: '9',
      royalty_detail_list: JSON.stringify([
        {
          operation_type: 'transfer',
          trans_in: '2088000000000101',
          trans_in_type: 'userId',
          amount: '12.34',
          state: 'SUCCESS',
        },
      ]),
    };
    const signed = (values: Record<string, string>) =>
      Buffer.from(
        formBody({ ...values, sign_type: 'RSA2', sign: notificationSignature(p.alipay.privateKey, values) }),
      );
    const headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    const parsed = await alipay().profitSharing!.parseSplitNotify('m1', headers, signed(fields));
    expect(parsed).toMatchObject({
      outSplitNo: 'S20240101000001',
      transactionId: TRADE_NO,
      splitId: '9',
      eventId: 'n-1',
    });
    expect(parsed.lines).toEqual([expect.objectContaining({ amountFen: 1234, result: 'SUCCESS' })]);

    const stale = { ...fields, notify_time: '2023-12-30 12:00:00' };
    expect(
      (await payError(alipay().profitSharing!.parseSplitNotify('m1', headers, signed(stale)))).code,
    ).toBe(40002);
    const payment = { ...fields, msg_method: 'alipay.fund.trans.order.changed' };
    expect(
      (await payError(alipay().profitSharing!.parseSplitNotify('m1', headers, signed(payment)))).field,
    ).toBe('msg_method');
  });
});
