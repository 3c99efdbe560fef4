/**
 * The console's view of an order's profit sharing, on orders split at the WeChat Pay and Alipay
 * emulators: the page and the JSON show what may still be split, each split with its lines (a
 * closed line with its reason), each return (on its own, or with an Alipay refund), and the
 * timeline their rows; never a receiver's name; and an operator of another merchant does not find
 * the order.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSplit } from '../../src/store/profit-sharing.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, PASSWORD } from './client.ts';

const orderNo = tradeNumbers('PSC');
const STORE = '1900007501';
const STORE_NAME = '示例门店有限公司';
const CLOSED_STORE = '1900007599';
const CLOSED_NAME = '关闭门店有限公司';

describe.each(backends)('console profit sharing on $name', (backend) => {
  let h: WxpayHarness;
  /** A split order: 10.00, lines 3.00 (paid) and 2.50 (closed), 1.20 returned. */
  let splitOrderNo: string;
  let outSplitNo: string;
  let outReturnNo: string;
  /** An order not created for splitting. */
  let plainOrderNo: string;

  const paid = async (profitSharing: boolean) => {
    const outTradeNo = orderNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: outTradeNo,
      total_fee: 1000,
      subject: '分账订单',
      type: 'goods',
      profitSharing,
    });
    expect((await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/pay`)).status).toBe(200);
    const order = await eventually(
      () => h.vkPay.getOrder(MERCHANT, outTradeNo),
      (found) => found.status === 'SUCCESS',
    );
    expect(order.status).toBe('SUCCESS');
    return outTradeNo;
  };

  const signedIn = async (name: string) => {
    const client = new ConsoleClient(h.app);
    expect((await client.signIn(name, PASSWORD)).statusCode).toBe(200);
    return client;
  };

  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      timeoutMs: 600,
      vkPay: {
        sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] },
        profitSharing: { sync: { minGapMs: 1, maxGapMs: 10, batchSize: 50, concurrency: 4 } },
      },
    });
    const configured = await h.control('POST', `/profitsharing/merchants/${h.mchId}`, {
      notifyUrl: `${h.vkPay.context.publicUrl}/notify-profit-sharing/wxpay/${MERCHANT}`,
      maxRatio: 1,
    });
    expect(configured.status).toBe(200);
    for (const [account, name] of [
      [STORE, STORE_NAME],
      [CLOSED_STORE, CLOSED_NAME],
    ] as const)
      await h.vkPay.addSplitReceiver({
        merchantId: MERCHANT,
        provider: 'wxpay',
        receiver: { type: 'MERCHANT_ID', account, name, relationType: 'STORE' },
      });
    expect(
      (await h.control('POST', '/profitsharing/accounts', { account: CLOSED_STORE, status: 'CLOSED' }))
        .status,
    ).toBe(200);

    splitOrderNo = await paid(true);
    plainOrderNo = await paid(false);
    outSplitNo = `SP${splitOrderNo}`;
    await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo: splitOrderNo,
      outSplitNo,
      lines: [
        { type: 'MERCHANT_ID', account: STORE, amountFen: 300, description: '门店分成' },
        { type: 'MERCHANT_ID', account: CLOSED_STORE, amountFen: 250, description: '旧门店分成' },
      ],
    });
    const done = await eventually(
      () => findSplit(h.vkPay.store.db, MERCHANT, outSplitNo),
      (found) => found?.status === 'FINISHED',
    );
    expect(done?.status).toBe('FINISHED');
    outReturnNo = `RT${splitOrderNo}`;
    await h.vkPay.returnSplit({
      merchantId: MERCHANT,
      outSplitNo,
      outReturnNo,
      receiverAccount: STORE,
      amountFen: 120,
      description: '部分回退',
    });
    const returned = await eventually(
      () => h.vkPay.queryReturn(MERCHANT, outReturnNo),
      (found) => found.ret.status === 'SUCCESS',
    );
    expect(returned.ret.status).toBe('SUCCESS');

    await addUser(h.vkPay, 'olga', 'operator');
    await addUser(h.vkPay, 'vera', 'viewer', [MERCHANT]);
    await addUser(h.vkPay, 'oscar', 'operator', ['otherShop']);
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  const path = (no: string) => `/console/orders/${MERCHANT}/${no}`;

  it('the JSON has what may still be split by the service rule, the splits with their lines, and the return', async () => {
    const olga = await signedIn('olga');
    const answer = await olga.get(path(splitOrderNo));
    expect(answer.statusCode).toBe(200);
    const data = answer.json().data;
    expect(data.order.profitSharing).toBe(true);
    // 1000 − 0 refunded − 300 split (the closed line holds nothing) + 120 returned.
    expect(data.profitSharing.splittableFen).toBe(820);
    expect((await h.vkPay.orderSplits(MERCHANT, splitOrderNo)).splittableFen).toBe(820);
    // WeChat Pay refunds only what is unsplit: the 180 fen with the receiver must come back first.
    expect(data.refundableFen).toBe(820);
    expect(data.profitSharing.createdForSplitting).toBe(true);
    expect(data.profitSharing.splittingFinished).toBe(false);
    expect(data.profitSharing.splits).toHaveLength(1);
    const [split] = data.profitSharing.splits;
    expect(split).toMatchObject({ out_split_no: outSplitNo, kind: 'split', status: 'FINISHED', amount: 550 });
    expect(
      split.lines.map((line: Record<string, unknown>) => [line.account, line.amount, line.result]),
    ).toEqual([
      [STORE, 300, 'SUCCESS'],
      [CLOSED_STORE, 250, 'CLOSED'],
    ]);
    expect(split.lines[1].fail_reason).toBeTruthy();
    expect(data.profitSharing.returns).toEqual([
      expect.objectContaining({
        out_return_no: outReturnNo,
        out_split_no: outSplitNo,
        receiver_type: 'MERCHANT_ID',
        receiver_account: STORE,
        amount: 120,
        status: 'SUCCESS',
        with_refund: false,
      }),
    ]);
    // The timeline has the split, the return and their events.
    const kinds = data.entries.map((entry: { kind: string }) => entry.kind);
    expect(kinds).toContain('split');
    expect(kinds).toContain('split_return');
    const events = data.entries
      .filter((entry: { kind: string }) => entry.kind === 'webhook_event')
      .map((entry: { type: string }) => entry.type);
    expect(events).toEqual(
      expect.arrayContaining([
        'profit_sharing.processing',
        'profit_sharing.line_closed',
        'profit_sharing.finished',
        'profit_sharing.returned',
      ]),
    );
    expect(answer.body).not.toContain(STORE_NAME);
    expect(answer.body).not.toContain(CLOSED_NAME);
  });

  it('the page shows the section in yuan, the closed line’s reason and the return; no names', async () => {
    const vera = await signedIn('vera');
    const page = await vera.get(`${path(splitOrderNo)}?lang=en`, { html: true });
    expect(page.statusCode).toBe(200);
    const html = page.body;
    const section = html.slice(
      html.indexOf('data-testid="profit-sharing"'),
      html.indexOf('data-testid="timeline"'),
    );
    expect(section).toContain('Profit sharing');
    expect(section).toMatch(/data-testid="splittable">¥8\.20/);
    expect(section).toMatch(/data-testid="split-amount">¥5\.50/);
    expect(section).not.toContain('data-testid="splitting-finished"');
    const lines = section.match(/<tr data-testid="split-line">.*?<\/tr>/g) ?? [];
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(STORE);
    expect(lines[0]).toContain('3.00');
    expect(lines[0]).toContain('SUCCESS');
    expect(lines[1]).toContain(CLOSED_STORE);
    expect(lines[1]).toContain('2.50');
    expect(lines[1]).toContain('CLOSED');
    const reason = /data-testid="line-fail-reason">([^<]*)</.exec(lines[1]!)?.[1];
    expect(reason).toBeTruthy();
    const ret = section.match(/<tr data-testid="split-return">.*?<\/tr>/g) ?? [];
    expect(ret).toHaveLength(1);
    expect(ret[0]).toContain(outReturnNo);
    expect(ret[0]).toContain('1.20');
    expect(ret[0]).toContain('SUCCESS');
    expect(html).toMatch(/data-kind="split">.*Split.*5\.50/);
    expect(html).toMatch(/data-kind="split_return">.*1\.20/);
    expect(html).not.toContain(STORE_NAME);
    expect(html).not.toContain(CLOSED_NAME);

    const zh = await vera.get(`${path(splitOrderNo)}?lang=zh`, { html: true });
    expect(zh.body).toContain('仍可分账');
  });

  it('an order neither created for splitting nor split has no section', async () => {
    const olga = await signedIn('olga');
    const answer = await olga.get(path(plainOrderNo));
    expect(answer.json().data.profitSharing).toBeNull();
    const page = await olga.get(path(plainOrderNo), { html: true });
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('data-testid="profit-sharing"');
  });

  it('an unfrozen order says splitting is finished; an unpaid one that only a paid order is split', async () => {
    const unfrozen = await paid(true);
    const outSplitNo = `UF${unfrozen}`;
    await h.vkPay.unfreezeOrder({
      merchantId: MERCHANT,
      outTradeNo: unfrozen,
      outSplitNo,
      description: '解冻',
    });
    await eventually(
      () => findSplit(h.vkPay.store.db, MERCHANT, outSplitNo),
      (found) => found?.status === 'FINISHED',
    );
    const olga = await signedIn('olga');
    const data = (await olga.get(path(unfrozen))).json().data;
    expect(data.profitSharing).toMatchObject({ splittingFinished: true, createdForSplitting: true });
    expect(data.profitSharing.splits).toEqual([
      expect.objectContaining({ out_split_no: outSplitNo, kind: 'unfreeze', lines: [] }),
    ]);
    const page = (await olga.get(`${path(unfrozen)}?lang=en`, { html: true })).body;
    expect(page).toContain('data-testid="splitting-finished"');
    expect(page).toContain('Unfreeze');
    expect(page).toContain('No receivers');
    expect(page).not.toContain('data-testid="split-needs-paid"');

    const unpaid = orderNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: unpaid,
      total_fee: 1000,
      subject: '分账订单',
      type: 'goods',
      profitSharing: true,
    });
    const waiting = (await olga.get(`${path(unpaid)}?lang=en`, { html: true })).body;
    expect(waiting).toContain('data-testid="split-needs-paid"');
    expect(waiting).toContain('No splits yet.');
    const json = (await olga.get(path(unpaid))).json().data.profitSharing;
    expect(json).toMatchObject({
      createdForSplitting: true,
      splittingFinished: false,
      splits: [],
      returns: [],
    });
  });

  it('an Alipay refund that takes the split back shows its return as with the refund, nothing left to split', async () => {
    const receiver = '2088000000000101';
    await h.vkPay.addSplitReceiver({
      merchantId: MERCHANT,
      provider: 'alipay',
      receiver: { type: 'ALIPAY_USER_ID', account: receiver },
    });
    const outTradeNo = orderNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'alipay',
      scene: 'native',
      out_trade_no: outTradeNo,
      total_fee: 1000,
      subject: '分账订单',
      type: 'goods',
      profitSharing: true,
    });
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${outTradeNo}/scan`);
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${outTradeNo}/pay`);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, outTradeNo),
      (found) => found.status === 'SUCCESS',
    );
    const outSplitNo = `SA${outTradeNo}`;
    await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [{ type: 'ALIPAY_USER_ID', account: receiver, amountFen: 300, description: '分成' }],
    });
    await eventually(
      () => h.vkPay.querySplit(MERCHANT, outSplitNo),
      (found) => found.split.status === 'FINISHED',
    );
    const outRefundNo = `RF${outTradeNo}`;
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: outTradeNo,
      out_refund_no: outRefundNo,
      refund_fee: 900,
    });
    await eventually(
      () => h.vkPay.queryRefund(MERCHANT, outRefundNo),
      (found) => found.refund.status === 'SUCCESS',
    );

    const vera = await signedIn('vera');
    const data = (await vera.get(path(outTradeNo))).json().data;
    // 1000 − 900 refunded − 300 split + 200 returned with the refund.
    expect(data.profitSharing.splittableFen).toBe(0);
    // Alipay takes splits back with a refund: the rest of the amount stays refundable.
    expect(data.refundableFen).toBe(100);
    expect(data.profitSharing.returns).toEqual([
      expect.objectContaining({
        out_return_no: `${outRefundNo}R1`,
        receiver_type: 'ALIPAY_USER_ID',
        receiver_account: receiver,
        amount: 200,
        status: 'SUCCESS',
        with_refund: true,
      }),
    ]);
    const html = (await vera.get(`${path(outTradeNo)}?lang=en`, { html: true })).body;
    expect(html).toMatch(/data-testid="splittable">¥0\.00/);
    const row = html.match(/<tr data-testid="split-return">.*?<\/tr>/g) ?? [];
    expect(row).toHaveLength(1);
    expect(row[0]).toContain(`${outRefundNo}R1`);
    expect(row[0]).toContain('2.00');
    expect(row[0]).toContain('<td>Yes</td>');
    expect(html).toMatch(/data-kind="split_return">.*2\.00 · <code>SUCCESS<\/code> · With a refund/);
  });

  it('an operator of another merchant does not find the order', async () => {
    const oscar = await signedIn('oscar');
    const answer = await oscar.get(path(splitOrderNo));
    expect(answer.statusCode).toBe(404);
    expect(answer.body).not.toContain(outSplitNo);
    const page = await oscar.get(path(splitOrderNo), { html: true });
    expect(page.statusCode).toBe(404);
    expect(page.body).not.toContain(outSplitNo);
  });
});
