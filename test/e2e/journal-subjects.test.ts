/**
 * The journal names whose and which thing each row is about: an order and a transfer of one number
 * on one gateway, and two merchants' orders of one number, each show only their own gateway calls,
 * errors and callbacks on their console pages.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderTimeline, type TimelineEntry } from '../../src/console/timeline.ts';
import { type TransferTimelineEntry, transferDetail } from '../../src/console/transfers.ts';
import { backends } from '../support/backends.ts';
import { codeOf, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const number = tradeNumbers('JS');
const SHOP_A = 'shopA';

type Entry = TimelineEntry | TransferTimelineEntry;
const operations = (entries: Entry[]) =>
  entries.flatMap((entry) => (entry.kind === 'journal' ? [entry.operation] : []));
const errorsOf = (entries: Entry[]) =>
  entries.flatMap((entry) => (entry.kind === 'error' ? [entry.message] : []));

describe.each(backends)('journal rows of one number on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      timeoutMs: 600,
      partnerMerchants: [SHOP_A],
      vkPay: {
        sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] },
        transfers: { perTransferMaxFen: 100_000, dailyMaxFen: 1_000_000, approvalThresholdFen: 50_000 },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const order = (merchantId: string, no: string) =>
    h.vkPay.pay({
      merchantId,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 500,
      subject: 'same number',
      type: 'goods',
    });

  it('an order and a transfer of one number each show only their own calls and errors', async () => {
    const no = number();
    await order(MERCHANT, no);
    const openid = `o${randomBytes(12).toString('hex')}`;
    expect(
      (await h.control('POST', '/transfers/payees', { openid, status: 'NORMAL', confirm: 'required' }))
        .status,
    ).toBe(200);
    // The transfer's sends fail at the gateway (it ends FAILED); then a query of the order fails too.
    await h.control('POST', '/faults', {
      kind: 'systemError',
      operation: 'transfer',
      outTradeNo: no,
      times: 'always',
    });
    await h.vkPay.transfer({
      merchantId: MERCHANT,
      provider: 'wxpay',
      outTransferNo: no,
      amountFen: 200,
      payee: { identityType: 'OPENID', identity: openid },
      remark: '注册奖励',
      requestedBy: 'alice',
    });
    await h.control('DELETE', '/faults');
    await h.control('POST', '/faults', {
      kind: 'systemError',
      operation: 'query',
      outTradeNo: no,
      times: 'always',
    });
    expect(await codeOf(h.vkPay.queryPayment(MERCHANT, no))).not.toBe(0);
    await h.control('DELETE', '/faults');
    const timeline = await orderTimeline(h.vkPay.store.db, MERCHANT, no);
    expect(timeline.journalShared).toBe(false);
    const orderOps = operations(timeline.entries);
    expect(orderOps).toContain('create');
    expect(orderOps).toContain('query');
    expect(orderOps.filter((op) => op.startsWith('transfer'))).toEqual([]);
    const orderErrors = errorsOf(timeline.entries);
    expect(orderErrors.length).toBeGreaterThan(0);
    expect(timeline.entries.filter((entry) => entry.kind === 'callback')).toEqual([]);

    const detail = await transferDetail(h.vkPay.store.db, MERCHANT, no, undefined);
    const transferOps = operations(detail.entries);
    expect(transferOps).toContain('transfer_start');
    expect(transferOps).toContain('transfer');
    expect(transferOps.filter((op) => !op.startsWith('transfer'))).toEqual([]);
    const transferErrors = errorsOf(detail.entries);
    expect(transferErrors.length).toBeGreaterThan(0);
    expect(transferErrors).not.toContain(orderErrors[0]);

    // The rows themselves say whose and which: the console reads them so.
    const errors = await h.vkPay.store.db
      .selectFrom('payment_errors')
      .select(['subject_kind', 'merchant_id'])
      .where('out_trade_no', '=', no)
      .orderBy('id')
      .execute();
    expect(errors.length).toBe(orderErrors.length + transferErrors.length);
    expect(errors.filter((row) => row.subject_kind === 'transfer')).toHaveLength(transferErrors.length);
    expect(errors.every((row) => row.merchant_id === MERCHANT)).toBe(true);
  });

  it('two merchants’ orders of one number on one gateway each show their own calls and errors', async () => {
    const no = number();
    await order(MERCHANT, no);
    await order(SHOP_A, no);
    await h.control('POST', '/faults', {
      kind: 'systemError',
      operation: 'query',
      outTradeNo: no,
      times: 'always',
    });
    expect(await codeOf(h.vkPay.queryPayment(SHOP_A, no))).not.toBe(0);
    await h.control('DELETE', '/faults');
    expect(await codeOf(h.vkPay.queryPayment(MERCHANT, no))).toBe(0);

    const mine = await orderTimeline(h.vkPay.store.db, MERCHANT, no);
    const theirs = await orderTimeline(h.vkPay.store.db, SHOP_A, no);
    for (const timeline of [mine, theirs]) {
      expect(timeline.journalShared).toBe(false);
      expect(operations(timeline.entries).filter((op) => op === 'create')).toHaveLength(1);
      expect(operations(timeline.entries)).toContain('query');
    }
    expect(errorsOf(mine.entries)).toEqual([]);
    expect(errorsOf(theirs.entries).length).toBeGreaterThan(0);
    const failed = theirs.entries.find((entry) => entry.kind === 'journal' && entry.operation === 'query');
    expect(failed).toMatchObject({ status: 'ERROR' });
    const fine = mine.entries.find((entry) => entry.kind === 'journal' && entry.operation === 'query');
    expect(fine).toMatchObject({ status: 'SUCCESS' });
  });
});
