/**
 * Profit sharing (分账) of our provider against the emulator over real sockets: receivers, splits
 * settled by query and by notification, closed lines, the max ratio and the unsplit amount,
 * duplicate numbers, unfreeze, returns, refunds of a split trade, a lost answer, and partner mode.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPayError, PayError } from '../../../src/core/errors.ts';
import type { SplitLine, SplitResult } from '../../../src/providers/profit-sharing.ts';
import { createWxpayProvider, type WxpayProvider } from '../../../src/providers/wxpay/index.ts';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../../src/sandbox/wxpay/index.ts';
import { type NotifyReceiver, startNotifyReceiver } from '../../sandbox/wxpay/support/notify-receiver.ts';

const MCHID = '1900007001';
const APPID = 'wx7777777777777701';
const SP_MCHID = '1900007900';
const SP_APPID = 'wx7777777777777790';
const SUB_MCHID = '1900007901';
/** A merchant receiver (a store, say): it needs no account at the emulator. */
const STORE = '1900007501';
const STORE_NAME = '示例门店有限公司';
const OPENID = 'oReceiverOpenid0000000001';

let sandbox: RunningWxpaySandbox;
let receiver: NotifyReceiver;
let wx: WxpayProvider;
let sequence = 0;
const number = (prefix: string) => `${prefix}${Date.now().toString(36)}${++sequence}`;

const control = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
  const response = await fetch(`${sandbox.url}/sandbox${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the control API's answers are read freely
  return { status: response.status, json: (await response.json()) as any };
};

async function register(mchid: string, appid: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const apiV3Key = randomBytes(16).toString('hex');
  const serialNo = randomBytes(20).toString('hex').toUpperCase();
  const registered = await control('POST', '/merchants', {
    mchid,
    appid,
    apiV3Key,
    merchantSerialNo: serialNo,
    merchantPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    keyMode: 'publicKey',
    refundSpacing: false,
    // The merchant platform's profit-sharing notify URL, given at registration.
    profitSharingNotifyUrl: `${receiver.url}/split/${mchid}`,
  });
  expect(registered.status).toBe(200);
  return {
    serialNo,
    privateKey,
    apiV3Key,
    wechatpayPublicKey: { id: registered.json.publicKeyId, pem: registered.json.publicKeyPem },
    baseUrl: sandbox.url,
    retry: { maxAttempts: 1 },
  };
}

beforeAll(async () => {
  sandbox = await startWxpaySandbox({ timeFactor: 0.001 });
  receiver = await startNotifyReceiver();
  const keys = await register(MCHID, APPID);
  const spKeys = await register(SP_MCHID, SP_APPID);
  expect((await control('POST', '/sub-merchants', { spMchid: SP_MCHID, subMchid: SUB_MCHID })).status).toBe(
    200,
  );
  wx = createWxpayProvider({
    serviceProviders: [{ id: 'sp', spMchId: SP_MCHID, spAppId: SP_APPID, ...spKeys }],
    merchants: [
      { merchantId: 'm1', mchId: MCHID, appId: APPID, ...keys },
      { merchantId: 'sub', serviceProvider: 'sp', subMchId: SUB_MCHID },
    ],
  });
  for (const merchantId of ['m1', 'sub']) {
    await wx.profitSharing!.addReceiver({
      merchantId,
      receiver: { type: 'MERCHANT_ID', account: STORE, name: STORE_NAME, relationType: 'STORE' },
    });
    await wx.profitSharing!.addReceiver({
      merchantId,
      receiver: { type: 'PERSONAL_OPENID', account: OPENID, relationType: 'USER' },
    });
  }
});
afterAll(async () => {
  await receiver?.close();
  await sandbox?.close();
});

const ps = () => wx.profitSharing!;

/** A paid trade of `totalFen`, created for splitting unless told otherwise. */
async function paidTrade(totalFen: number, profitSharing = true, merchantId = 'm1', mchid = MCHID) {
  const outTradeNo = number('PS');
  await wx.createPayment({
    merchantId,
    outTradeNo,
    totalFen,
    subject: '分账订单',
    scene: 'native',
    notifyUrl: `${receiver.url}/pay`,
    profitSharing,
  });
  const paid = await control('POST', `/trades/${mchid}/${outTradeNo}/pay`, {});
  expect(paid.status).toBe(200);
  return { outTradeNo, transactionId: paid.json.transaction.transaction_id as string };
}

const line = (amountFen: number, account = STORE, type: SplitLine['type'] = 'MERCHANT_ID'): SplitLine => ({
  type,
  account,
  amountFen,
  description: '门店分成',
});

const splitOf = (
  trade: { outTradeNo: string; transactionId: string },
  lines: SplitLine[],
  finish = false,
) => ({
  merchantId: 'm1',
  outTradeNo: trade.outTradeNo,
  transactionId: trade.transactionId,
  outSplitNo: number('SP'),
  lines,
  finish,
  notifyUrl: `${receiver.url}/unused`,
});

async function finished(query: Parameters<ReturnType<typeof ps>['querySplit']>[0]): Promise<SplitResult> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const result = await ps().querySplit(query);
    if (result.status === 'FINISHED' || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function splitNotification(outSplitNo: string, eventType: string) {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const records = await control('GET', '/notifications');
    const record = (
      records.json as Array<{ body: string; eventType: string; resource: { out_order_no?: string } }>
    ).find((entry) => entry.eventType === eventType && entry.resource.out_order_no === outSplitNo);
    const received = record && receiver.received.find((entry) => entry.body === record.body);
    if (received) return received;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no ${eventType} for ${outSplitNo}`);
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: unknown) =>
      isPayError(error) ? `${error.code} ${error.gatewayCode ?? ''}`.trim() : String(error),
  );

describe('wxpay profit sharing against the emulator', () => {
  it('binds receivers with the name encrypted for the gateway, and a removed receiver gets nothing', async () => {
    const bound = await control('GET', `/profitsharing/receivers/${MCHID}`);
    expect(bound.json).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ appid: APPID, type: 'MERCHANT_ID', account: STORE, name: STORE_NAME }),
        expect.objectContaining({ type: 'PERSONAL_OPENID', account: OPENID, name: null }),
      ]),
    );
    const temporary = 'oTemporaryReceiver000001';
    const receiverRequest = {
      merchantId: 'm1',
      receiver: { type: 'PERSONAL_OPENID' as const, account: temporary, relationType: 'PARTNER' },
    };
    await ps().addReceiver(receiverRequest);
    await ps().addReceiver(receiverRequest);
    await ps().removeReceiver(receiverRequest);
    const trade = await paidTrade(1000);
    expect(await failure(ps().split(splitOf(trade, [line(10, temporary, 'PERSONAL_OPENID')])))).toBe(
      '40001 INVALID_REQUEST',
    );
    expect(
      await failure(
        ps().addReceiver({
          merchantId: 'm1',
          receiver: { type: 'MERCHANT_ID', account: STORE, relationType: 'STORE' },
        }),
      ),
    ).toBe('40001');
  });

  it('splits: PROCESSING with PENDING lines, FINISHED by query, and a verified PROFITSHARING.SUCCESS', async () => {
    const trade = await paidTrade(1000);
    const request = splitOf(trade, [line(200), line(50, OPENID, 'PERSONAL_OPENID')]);
    const created = await ps().split(request);
    expect(created).toMatchObject({
      status: 'PROCESSING',
      outSplitNo: request.outSplitNo,
      source: 'request',
    });
    expect(created.splitId).toMatch(/^\d+$/);
    expect(created.lines.map((l) => [l.account, l.amountFen, l.result])).toEqual([
      [STORE, 200, 'PENDING'],
      [OPENID, 50, 'PENDING'],
    ]);
    const done = await finished(request);
    expect(done.status).toBe('FINISHED');
    expect(
      done.lines.every((l) => l.result === 'SUCCESS' && l.finishedAt instanceof Date && l.detailId),
    ).toBe(true);
    expect(await ps().unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(750);

    const delivered = await splitNotification(request.outSplitNo, 'PROFITSHARING.SUCCESS');
    expect(delivered.body).not.toContain(STORE);
    const notification = await ps().parseSplitNotify('m1', delivered.headers, Buffer.from(delivered.body));
    expect(notification).toMatchObject({
      merchantId: 'm1',
      provider: 'wxpay',
      outSplitNo: request.outSplitNo,
      transactionId: trade.transactionId,
      splitId: created.splitId,
    });
    expect(notification.lines).toHaveLength(1);
    expect(notification.lines[0]).toMatchObject({ result: 'SUCCESS' });
    expect(notification.eventId).toBeTruthy();
    // Another body under the same signature is refused.
    const tampered = Buffer.from(delivered.body.replace('"id":"', '"id":"x'));
    expect(await failure(ps().parseSplitNotify('m1', delivered.headers, tampered))).toMatch(/^40002/);
    expect(ps().ackSplitNotify('accepted').status).toBe(204);
  });

  it('closes the line of a closed receiver account and notifies PROFITSHARING.CLOSED', async () => {
    const closedOpenid = 'oClosedAccount00000000001';
    await ps().addReceiver({
      merchantId: 'm1',
      receiver: { type: 'PERSONAL_OPENID', account: closedOpenid, relationType: 'USER' },
    });
    expect(
      (await control('POST', '/profitsharing/accounts', { account: closedOpenid, status: 'CLOSED' })).status,
    ).toBe(200);
    const trade = await paidTrade(1000);
    const request = splitOf(trade, [line(100), line(30, closedOpenid, 'PERSONAL_OPENID')]);
    await ps().split(request);
    const done = await finished(request);
    expect(done.lines.map((l) => [l.account, l.result, l.failReason])).toEqual([
      [STORE, 'SUCCESS', null],
      [closedOpenid, 'CLOSED', 'ACCOUNT_ABNORMAL'],
    ]);
    // The closed line's money is back in the unsplit amount.
    expect(await ps().unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(900);
    const delivered = await splitNotification(request.outSplitNo, 'PROFITSHARING.CLOSED');
    const notification = await ps().parseSplitNotify('m1', delivered.headers, Buffer.from(delivered.body));
    expect(notification.lines[0]).toMatchObject({ account: closedOpenid, result: 'CLOSED', amountFen: 30 });
  });

  it('refuses a split over the max ratio or over the unsplit amount, and one of a trade not made for splitting', async () => {
    const trade = await paidTrade(1000);
    expect(await failure(ps().split(splitOf(trade, [line(301)])))).toBe('40001 INVALID_REQUEST');
    expect(await failure(ps().split(splitOf(trade, [line(300)])))).toBe('ok');
    expect(await failure(ps().split(splitOf(trade, [line(1)])))).toBe('40001 INVALID_REQUEST');

    const other = await paidTrade(1000);
    expect((await control('POST', `/profitsharing/merchants/${MCHID}`, { maxRatio: 1 })).status).toBe(200);
    try {
      await wx.refund({
        merchantId: 'm1',
        outTradeNo: other.outTradeNo,
        outRefundNo: number('RF'),
        refundFen: 800,
        totalFen: 1000,
        notifyUrl: `${receiver.url}/refund`,
      });
      // The refund took from the unsplit amount: 200 left.
      expect(await ps().unsplitAmount({ merchantId: 'm1', transactionId: other.transactionId })).toBe(200);
      expect(await failure(ps().split(splitOf(other, [line(201)])))).toBe('40001 INVALID_REQUEST');
      expect(await failure(ps().split(splitOf(other, [line(200)])))).toBe('ok');
    } finally {
      await control('POST', `/profitsharing/merchants/${MCHID}`, { maxRatio: 0.3 });
    }

    const plain = await paidTrade(1000, false);
    expect(await failure(ps().split(splitOf(plain, [line(10)])))).toBe('40001 INVALID_REQUEST');
    expect(await ps().unsplitAmount({ merchantId: 'm1', transactionId: plain.transactionId })).toBe(0);
  });

  it('answers the same split for the same out_order_no and refuses other content under it', async () => {
    const trade = await paidTrade(1000);
    const request = splitOf(trade, [line(100)]);
    const first = await ps().split(request);
    const again = await ps().split(request);
    expect(again.splitId).toBe(first.splitId);
    expect(await failure(ps().split({ ...request, lines: [line(101)] }))).toBe('40001 INVALID_REQUEST');
    expect(await ps().unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(900);
    expect(await failure(ps().querySplit({ ...request, outSplitNo: number('NONE') }))).toBe(
      '40005 RESOURCE_NOT_EXISTS',
    );
  });

  it('unfreezes the rest to the merchant, after which the trade cannot be split', async () => {
    const trade = await paidTrade(1000);
    await ps().split(splitOf(trade, [line(100)]));
    const unfreeze = {
      merchantId: 'm1',
      outTradeNo: trade.outTradeNo,
      transactionId: trade.transactionId,
      outSplitNo: number('UF'),
      description: '解冻全部剩余资金',
      notifyUrl: `${receiver.url}/unused`,
    };
    const result = await ps().unfreeze(unfreeze);
    expect(result.lines).toEqual([
      expect.objectContaining({ type: 'MERCHANT_ID', account: MCHID, amountFen: 900, result: 'PENDING' }),
    ]);
    expect(await ps().unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(0);
    expect((await finished(unfreeze)).lines[0]!.result).toBe('SUCCESS');
    expect(await failure(ps().split(splitOf(trade, [line(10)])))).toBe('40001 INVALID_REQUEST');
    // A split that asks to unfreeze the rest ends splitting the same way.
    const other = await paidTrade(1000);
    await ps().split(splitOf(other, [line(100)], true));
    expect(await ps().unsplitAmount({ merchantId: 'm1', transactionId: other.transactionId })).toBe(0);
  });

  it('refuses a refund of split money until it is returned, then refunds it', async () => {
    const trade = await paidTrade(1000);
    const request = splitOf(trade, [line(300)], true);
    const split = await ps().split(request);
    await finished(request);
    const refund = (outRefundNo: string, refundFen: number) =>
      wx.refund({
        merchantId: 'm1',
        outTradeNo: trade.outTradeNo,
        outRefundNo,
        refundFen,
        totalFen: 1000,
        notifyUrl: `${receiver.url}/refund`,
      });
    expect(await failure(refund(number('RF'), 1000))).toBe('40007 NOT_ENOUGH');
    expect(await failure(refund(number('RF'), 700))).toBe('ok');

    // A return needs a MERCHANT_ID receiver of that split, and at most what it got.
    const returnOf = (amountFen: number, receiverAccount = STORE) => ({
      merchantId: 'm1',
      outSplitNo: request.outSplitNo,
      splitId: split.splitId,
      outReturnNo: number('RT'),
      receiverAccount,
      amountFen,
      description: '退款前回退',
    });
    expect(await failure(ps().returnSplit!(returnOf(301)))).toBe('40001 INVALID_REQUEST');
    expect(await failure(ps().returnSplit!(returnOf(10, '1900007599')))).toBe('40001 INVALID_REQUEST');
    const returning = returnOf(300);
    const returned = await ps().returnSplit!(returning);
    expect(returned).toMatchObject({ status: 'PROCESSING', amountFen: 300, outSplitNo: request.outSplitNo });
    expect(returned.returnId).toBeTruthy();
    const deadline = Date.now() + 5000;
    let queried = await ps().queryReturn!(returning);
    while (queried.status === 'PROCESSING' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      queried = await ps().queryReturn!(returning);
    }
    expect(queried).toMatchObject({ status: 'SUCCESS', source: 'query', amountFen: 300 });
    expect(queried.finishedAt).toBeInstanceOf(Date);
    expect(await failure(refund(number('RF'), 300))).toBe('ok');
  });

  it('reports a split whose answer was lost as outcome unknown, and the query finds it made', async () => {
    const trade = await paidTrade(1000);
    expect(
      (
        await control('POST', '/faults', {
          kind: 'systemError',
          operation: 'profitSharing',
          outTradeNo: trade.outTradeNo,
          afterHandling: true,
        })
      ).status,
    ).toBe(200);
    const request = splitOf(trade, [line(100)]);
    const error = await ps()
      .split(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayError);
    expect((error as PayError).outcomeUnknown).toBe(true);
    const found = await ps().querySplit(request);
    expect(found.lines.map((l) => l.amountFen)).toEqual([100]);
  });

  it('splits for a sub-merchant through its service provider', async () => {
    const trade = await paidTrade(1000, true, 'sub', SUB_MCHID);
    const request = { ...splitOf(trade, [line(200)]), merchantId: 'sub' };
    const created = await ps().split(request);
    expect(created.status).toBe('PROCESSING');
    expect((await finished(request)).status).toBe('FINISHED');
    expect(await ps().unsplitAmount({ merchantId: 'sub', transactionId: trade.transactionId })).toBe(800);
    const delivered = await splitNotification(request.outSplitNo, 'PROFITSHARING.SUCCESS');
    expect(delivered.body).toBeTruthy();
    const notification = await ps().parseSplitNotify('sub', delivered.headers, Buffer.from(delivered.body));
    expect(notification).toMatchObject({ merchantId: 'sub', outSplitNo: request.outSplitNo });
    // The direct merchant's split numbers are not the sub-merchant's.
    expect(await failure(ps().querySplit({ ...request, merchantId: 'm1' }))).toBe(
      '40005 RESOURCE_NOT_EXISTS',
    );
  });
});
