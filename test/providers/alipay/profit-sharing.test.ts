/**
 * Profit sharing (商家分账) through the provider, over real HTTP against the Alipay emulator:
 * receivers bound and unbound, splits of a royalty-frozen trade, their query and notification,
 * unfreezing, and refunds that take splits back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAlipayProvider } from '../../../src/providers/alipay/index.ts';
import type { ProfitSharingOperations, SplitLine } from '../../../src/providers/profit-sharing.ts';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  generateAppKeys,
  type NotifyReceiver,
  startNotifyReceiver,
  waitFor,
} from '../../sandbox/alipay/helpers.ts';
import { payError } from './support/fixtures.ts';

let sandbox: RunningAlipaySandbox;
let receiver: NotifyReceiver;
let alipay: ReturnType<typeof createAlipayProvider>;
let sharing: ProfitSharingOperations;
let appId: string;
let sequence = 0;

const RECEIVER_A = '2088000000000101';
const RECEIVER_B = '2088000000000102';
const CLOSED_RECEIVER = '2088000000000199';

beforeAll(async () => {
  sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
  receiver = await startNotifyReceiver();
  const keys = generateAppKeys();
  const { json } = await controlJson<Record<string, string>>(`${sandbox.controlUrl}/apps`, {
    keyMode: 'publicKey',
    appPublicKey: keys.publicKeyPem,
  });
  appId = json.appId!;
  alipay = createAlipayProvider({
    merchants: [
      {
        merchantId: 'm1',
        appId,
        sellerId: json.sellerId!,
        privateKey: keys.privateKeyPem,
        alipayPublicKey: json.alipayPublicKey!,
        baseUrl: sandbox.gatewayUrl,
        timeoutMs: 2_000,
        retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
      },
    ],
  });
  sharing = alipay.profitSharing!;
  await controlJson(`${sandbox.controlUrl}/royalty/receivers`, {
    account: CLOSED_RECEIVER,
    status: 'CLOSED',
  });
  for (const account of [RECEIVER_A, RECEIVER_B, CLOSED_RECEIVER])
    await sharing.addReceiver({ merchantId: 'm1', receiver: { type: 'ALIPAY_USER_ID', account } });
});
afterEach(async () => {
  await controlJson(`${sandbox.controlUrl}/faults`, undefined, 'DELETE');
});
afterAll(async () => {
  await receiver.close();
  await sandbox.close();
});

/** A paid trade of `totalFen`, created frozen for splitting unless told otherwise. */
async function paidTrade(totalFen = 10_000, profitSharing = true) {
  const outTradeNo = `PS-${Date.now()}-${++sequence}`;
  await alipay.createPayment({
    merchantId: 'm1',
    outTradeNo,
    totalFen,
    subject: '分账订单',
    scene: 'miniprogram',
    openid: '2088000000009999',
    notifyUrl: receiver.url,
    profitSharing,
  });
  const { json } = await controlJson<{ tradeNo: string; tradeStatus: string }>(
    `${sandbox.controlUrl}/trades/${appId}/${outTradeNo}/pay`,
    {},
  );
  expect(json.tradeStatus).toBe('TRADE_SUCCESS');
  return { outTradeNo, transactionId: json.tradeNo };
}

const line = (account: string, amountFen: number): SplitLine => ({
  type: 'ALIPAY_USER_ID',
  account,
  amountFen,
  description: `分给${account.slice(-3)}`,
});

function splitRequest(
  trade: { outTradeNo: string; transactionId: string },
  lines: SplitLine[],
  overrides: { outSplitNo?: string; finish?: boolean } = {},
) {
  return {
    merchantId: 'm1',
    ...trade,
    outSplitNo: overrides.outSplitNo ?? `S${Date.now()}${++sequence}`,
    lines,
    finish: overrides.finish ?? false,
    notifyUrl: receiver.url,
  };
}

const queryOf = (request: ReturnType<typeof splitRequest>) => ({
  merchantId: 'm1',
  outTradeNo: request.outTradeNo,
  transactionId: request.transactionId,
  outSplitNo: request.outSplitNo,
});

describe('alipay profit sharing', () => {
  it('names its receiver types and returns splits only with a refund', () => {
    expect(sharing.receiverTypes).toEqual(['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID']);
    expect(sharing.returnsWithRefund).toBe(true);
    expect(sharing.returnSplit).toBeUndefined();
    expect(sharing.queryReturn).toBeUndefined();
  });

  it('binds and unbinds receivers; both are idempotent; a split to an unbound receiver is refused', async () => {
    const account = '2088000000000150';
    const request = { merchantId: 'm1', receiver: { type: 'ALIPAY_USER_ID' as const, account } };
    await sharing.addReceiver(request);
    await sharing.addReceiver(request);
    let relations = await controlJson<Array<{ account: string }>>(
      `${sandbox.controlUrl}/royalty/${appId}/relations`,
    );
    expect(relations.json.map((relation) => relation.account)).toContain(account);
    await sharing.removeReceiver(request);
    await sharing.removeReceiver(request);
    relations = await controlJson(`${sandbox.controlUrl}/royalty/${appId}/relations`);
    expect(relations.json.map((relation) => relation.account)).not.toContain(account);

    const trade = await paidTrade();
    const error = await payError(sharing.split(splitRequest(trade, [line(account, 100)])));
    expect(error).toMatchObject({
      code: 40001,
      gatewayCode: 'ACQ.ROYALTY_RECEIVER_NOT_BOUND',
      outcomeUnknown: false,
    });
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(
      10_000,
    );
  });

  it('a logon-id receiver needs the real name at bind; other types are refused before any call', async () => {
    const error = await payError(
      sharing.addReceiver({ merchantId: 'm1', receiver: { type: 'ALIPAY_LOGON_ID', account: 'a@b.test' } }),
    );
    expect(error).toMatchObject({ code: 40001, gatewayCode: 'ACQ.INVALID_PARAMETER' });
    await sharing.addReceiver({
      merchantId: 'm1',
      receiver: { type: 'ALIPAY_LOGON_ID', account: 'a@b.test', name: '张三' },
    });
    const wrongType = await payError(
      sharing.addReceiver({ merchantId: 'm1', receiver: { type: 'MERCHANT_ID', account: '1900000109' } }),
    );
    expect(wrongType).toMatchObject({ code: 40001, field: 'receiver.type' });
  });

  it('splits: PROCESSING with PENDING lines, then FINISHED by query with detail ids and times', async () => {
    const trade = await paidTrade();
    const request = splitRequest(trade, [line(RECEIVER_A, 3000), line(RECEIVER_B, 1500)]);
    const result = await sharing.split(request);
    expect(result).toMatchObject({ provider: 'alipay', status: 'PROCESSING', source: 'request' });
    expect(result.splitId).toMatch(/^\d{32}$/);
    expect(result.lines.map((entry) => entry.result)).toEqual(['PENDING', 'PENDING']);
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(5500);

    const early = await sharing.querySplit(queryOf(request));
    expect(early.status).toBe('PROCESSING');
    const finished = await pollFinished(request);
    expect(finished.source).toBe('query');
    expect(finished.lines).toEqual([
      expect.objectContaining({
        type: 'ALIPAY_USER_ID',
        account: RECEIVER_A,
        amountFen: 3000,
        result: 'SUCCESS',
      }),
      expect.objectContaining({ account: RECEIVER_B, amountFen: 1500, result: 'SUCCESS' }),
    ]);
    for (const entry of finished.lines) {
      expect(entry.detailId).toMatch(/^\d+$/);
      expect(entry.finishedAt).toBeInstanceOf(Date);
    }
  });

  it('a line to a closed receiver account FAILs (CLOSED) and its amount is frozen again', async () => {
    const trade = await paidTrade();
    const request = splitRequest(trade, [line(RECEIVER_A, 1000), line(CLOSED_RECEIVER, 2000)]);
    await sharing.split(request);
    const finished = await pollFinished(request);
    expect(finished.lines.map((entry) => [entry.account, entry.result])).toEqual([
      [RECEIVER_A, 'SUCCESS'],
      [CLOSED_RECEIVER, 'CLOSED'],
    ]);
    expect(finished.lines[1]!.failReason).toBe('RECEIVE_ACCOUNT_STATUS_ERROR');
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(9000);
  });

  it('refuses more than is still frozen, and a trade not created for splitting', async () => {
    const trade = await paidTrade(1000);
    const over = await payError(sharing.split(splitRequest(trade, [line(RECEIVER_A, 1001)])));
    expect(over).toMatchObject({
      code: 40001,
      gatewayCode: 'ACQ.ALLOC_AMOUNT_VALIDATE_ERROR',
      outcomeUnknown: false,
    });
    await sharing.split(splitRequest(trade, [line(RECEIVER_A, 600)]));
    const rest = await payError(sharing.split(splitRequest(trade, [line(RECEIVER_B, 401)])));
    expect(rest.gatewayCode).toBe('ACQ.ALLOC_AMOUNT_VALIDATE_ERROR');

    const plain = await paidTrade(1000, false);
    const notFrozen = await payError(sharing.split(splitRequest(plain, [line(RECEIVER_A, 100)])));
    expect(notFrozen).toMatchObject({ code: 50000, gatewayCode: 'ACQ.TRADE_SETTLE_ERROR' });
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: plain.transactionId })).toBe(0);

    const missing = await payError(
      sharing.split(
        splitRequest({ outTradeNo: 'none', transactionId: '2025000000000000000000000000' }, [
          line(RECEIVER_A, 1),
        ]),
      ),
    );
    expect(missing).toMatchObject({ code: 40005, gatewayCode: 'ACQ.TRADE_NOT_EXIST' });
  });

  it('the same out_request_no answers the same settle_no; with other content it is refused', async () => {
    const trade = await paidTrade();
    const request = splitRequest(trade, [line(RECEIVER_A, 700)]);
    const first = await sharing.split(request);
    const again = await sharing.split(request);
    expect(again.splitId).toBe(first.splitId);
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(9300);
    const other = await payError(sharing.split({ ...request, lines: [line(RECEIVER_A, 800)] }));
    expect(other).toMatchObject({ code: 40001, gatewayCode: 'ACQ.DISCORDANT_REPEAT_REQUEST' });
  });

  it('a settle applied but never answered is outcomeUnknown; the query with the same number finds it', async () => {
    const trade = await paidTrade();
    const request = splitRequest(trade, [line(RECEIVER_B, 250)]);
    await controlJson(`${sandbox.controlUrl}/faults`, {
      kind: 'systemError',
      method: 'alipay.trade.order.settle',
      outTradeNo: request.outSplitNo,
      afterHandling: true,
      times: 'always',
    });
    const error = await payError(sharing.split(request));
    expect(error).toMatchObject({ code: 40010, outcomeUnknown: true });
    const finished = await pollFinished(request);
    expect(finished.lines).toEqual([
      expect.objectContaining({ account: RECEIVER_B, amountFen: 250, result: 'SUCCESS' }),
    ]);
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(9750);
  });

  it('an unknown split is 40005', async () => {
    const trade = await paidTrade();
    const error = await payError(sharing.querySplit({ merchantId: 'm1', ...trade, outSplitNo: 'NOSUCH' }));
    expect(error.code).toBe(40005);
  });

  it('unfreeze releases what is left; later splits are refused', async () => {
    const trade = await paidTrade();
    await sharing.split(splitRequest(trade, [line(RECEIVER_A, 2000)]));
    const unfrozen = await sharing.unfreeze({
      merchantId: 'm1',
      ...trade,
      outSplitNo: `U${Date.now()}${++sequence}`,
      description: '分账完结',
      notifyUrl: receiver.url,
    });
    expect(unfrozen).toMatchObject({ status: 'FINISHED', lines: [] });
    expect(unfrozen.splitId).toMatch(/^\d{32}$/);
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(0);
    const later = await payError(sharing.split(splitRequest(trade, [line(RECEIVER_A, 100)])));
    expect(later).toMatchObject({ code: 50000, gatewayCode: 'ACQ.TRADE_SETTLE_ERROR' });
  });

  it('a split with finish splits and releases the rest in one call', async () => {
    const trade = await paidTrade();
    const request = splitRequest(trade, [line(RECEIVER_A, 1234)], { finish: true });
    await sharing.split(request);
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(0);
    expect((await pollFinished(request)).lines[0]!.result).toBe('SUCCESS');
  });

  it('the signed settle notification verifies and reads like the query; a tampered one is refused', async () => {
    const trade = await paidTrade();
    const request = splitRequest(trade, [line(RECEIVER_A, 300), line(CLOSED_RECEIVER, 200)]);
    const { splitId } = await sharing.split(request);
    const sent = await waitFor(() =>
      receiver.received.find((entry) => entry.params.biz_content?.includes(request.outSplitNo)),
    );
    expect(sent.params.msg_method).toBe('alipay.trade.order.settle.notify');
    const headers = { 'content-type': sent.contentType };
    const parsed = await sharing.parseSplitNotify('m1', headers, Buffer.from(sent.rawBody));
    expect(parsed).toMatchObject({
      provider: 'alipay',
      outSplitNo: request.outSplitNo,
      transactionId: trade.transactionId,
      splitId,
      eventId: sent.params.notify_id,
    });
    expect(parsed.lines.map((entry) => [entry.account, entry.amountFen, entry.result])).toEqual([
      [RECEIVER_A, 300, 'SUCCESS'],
      [CLOSED_RECEIVER, 200, 'CLOSED'],
    ]);
    expect(sharing.ackSplitNotify('accepted')).toMatchObject({ status: 200, body: 'success' });

    const tampered = sent.rawBody.replace('SUCCESS', 'PROCESSING');
    expect((await payError(sharing.parseSplitNotify('m1', headers, Buffer.from(tampered)))).code).toBe(40002);
    const settle = await controlJson<{ notifications: Array<{ body?: string }> }>(
      `${sandbox.controlUrl}/royalty/${appId}/settles/${request.outSplitNo}`,
    );
    expect(settle.json.notifications[0]!.body).toBe('success');
  });

  it('a refund of a split trade beyond what the merchant holds needs splitReturns, and takes them back', async () => {
    const trade = await paidTrade(10_000);
    const request = splitRequest(trade, [line(RECEIVER_A, 6000), line(RECEIVER_B, 1000)]);
    await sharing.split(request);
    await pollFinished(request);
    const refund = {
      merchantId: 'm1',
      outTradeNo: trade.outTradeNo,
      totalFen: 10_000,
      notifyUrl: receiver.url,
    };
    // 3000 still frozen: a refund of 2000 is drawn from it.
    const small = await alipay.refund({ ...refund, outRefundNo: `R${++sequence}`, refundFen: 2000 });
    expect(small.status).toBe('SUCCESS');
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(1000);

    const refused = await payError(
      alipay.refund({ ...refund, outRefundNo: `R${++sequence}`, refundFen: 5000 }),
    );
    expect(refused).toMatchObject({ code: 40007, gatewayCode: 'ACQ.SELLER_BALANCE_NOT_ENOUGH' });
    const tooMuchBack = await payError(
      alipay.refund({
        ...refund,
        outRefundNo: `R${++sequence}`,
        refundFen: 5000,
        splitReturns: [{ type: 'ALIPAY_USER_ID', account: RECEIVER_B, amountFen: 4000 }],
      }),
    );
    expect(tooMuchBack).toMatchObject({ code: 40001, gatewayCode: 'ACQ.INVALID_PARAMETER' });

    const outRefundNo = `R${++sequence}`;
    const accepted = await alipay.refund({
      ...refund,
      outRefundNo,
      refundFen: 5000,
      splitReturns: [{ type: 'ALIPAY_USER_ID', account: RECEIVER_A, amountFen: 4000 }],
    });
    expect(accepted.status).toBe('SUCCESS');
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: trade.transactionId })).toBe(0);
    const view = await controlJson<{ refunds: Array<{ outRequestNo: string; royaltyReturns?: unknown[] }> }>(
      `${sandbox.controlUrl}/trades/${appId}/${trade.outTradeNo}`,
    );
    expect(view.json.refunds.find((entry) => entry.outRequestNo === outRefundNo)!.royaltyReturns).toEqual([
      { transOutType: 'userId', transOut: RECEIVER_A, amountFen: 4000 },
    ]);
  });

  it('the payment carries extend_params.royalty_freeze only when asked', async () => {
    const frozen = await paidTrade(500, true);
    const plain = await paidTrade(500, false);
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: frozen.transactionId })).toBe(500);
    expect(await sharing.unsplitAmount({ merchantId: 'm1', transactionId: plain.transactionId })).toBe(0);
  });
});

/** Queries until the split is FINISHED (async settles finish a few real milliseconds later). */
async function pollFinished(request: ReturnType<typeof splitRequest>) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const queried = await sharing.querySplit(queryOf(request));
    if (queried.status === 'FINISHED') return queried;
    if (Date.now() > deadline) throw new Error(`split ${request.outSplitNo} still ${queried.status}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
