import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncProfitSharing } from '../../src/service/profit-sharing-job.ts';
import { ruleSplitNo } from '../../src/service/profit-sharing-settings.ts';
import { findSplit, splitLines } from '../../src/store/profit-sharing.ts';
import { backends } from '../support/backends.ts';
import { signedApi } from '../support/signed-client.ts';
import {
  API_APP,
  codeOf,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const orderNo = tradeNumbers('PSW');
const splitNo = tradeNumbers('SPW');
const STORE = '1900007501';
const STORE_NAME = '示例门店有限公司';

describe.each(backends)('WeChat Pay profit sharing on $name', (backend) => {
  let h: WxpayHarness;
  let api: ReturnType<typeof signedApi>;
  let baseUrl: string;
  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      timeoutMs: 600,
      vkPay: {
        sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] },
        profitSharing: {
          rules: {
            vip: {
              receivers: [{ type: 'MERCHANT_ID', account: STORE, ratioBp: 3333, description: '会员分成' }],
              finish: true,
              delayMs: 0,
            },
          },
          // Splits and returns are due for the job at once.
          sync: { minGapMs: 1, maxGapMs: 10, batchSize: 50, concurrency: 4 },
        },
      },
    });
    baseUrl = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`;
    api = signedApi(baseUrl, API_APP);
    // WeChat takes the profit-sharing notify URL from the merchant platform; the whole trade may be split.
    const configured = await h.control('POST', `/profitsharing/merchants/${h.mchId}`, {
      notifyUrl: `${h.vkPay.context.publicUrl}/notify-profit-sharing/wxpay/${MERCHANT}`,
      maxRatio: 1,
    });
    expect(configured.status).toBe(200);
    await h.vkPay.addSplitReceiver({
      merchantId: MERCHANT,
      provider: 'wxpay',
      receiver: { type: 'MERCHANT_ID', account: STORE, name: STORE_NAME, relationType: 'STORE' },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** An order created for splitting, paid at the emulator, SUCCESS here. */
  const paidForSplitting = async (
    totalFen: number,
    type = 'goods',
    profitSharing: boolean | undefined = true,
  ) => {
    const outTradeNo = orderNo();
    const { order } = await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: outTradeNo,
      total_fee: totalFen,
      subject: '分账订单',
      type,
      ...(profitSharing === undefined ? {} : { profitSharing }),
    });
    expect(order.profitSharing).toBe(true);
    expect((await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/pay`)).status).toBe(200);
    const paid = await eventually(
      () => h.vkPay.getOrder(MERCHANT, outTradeNo),
      (found) => found.status === 'SUCCESS',
    );
    expect(paid.status).toBe('SUCCESS');
    return outTradeNo;
  };
  const line = (amountFen: number) => ({
    type: 'MERCHANT_ID' as const,
    account: STORE,
    amountFen,
    description: '门店分成',
  });
  /** The split as stored here, without asking the gateway. */
  const stored = async (outSplitNo: string) => {
    const row = await findSplit(h.vkPay.store.db, MERCHANT, outSplitNo);
    return row ? { ...row, lines: await splitLines(h.vkPay.store.db, row.id) } : undefined;
  };
  const eventsOf = async (outTradeNo: string) =>
    (
      await h.vkPay.store.db
        .selectFrom('webhook_events')
        .select(['type', 'payload'])
        .where('type', 'like', 'profit_sharing.%')
        .where('out_trade_no', '=', outTradeNo)
        .orderBy('create_date')
        .execute()
    ).map((row) => ({ type: row.type, body: JSON.stringify(row.payload) }));
  const gatewayCalls = async (outTradeNo: string, type: string) =>
    Number(
      (
        await h.vkPay.store.db
          .selectFrom('payment_logs')
          .select(sql<number>`count(*)`.as('n'))
          .where('out_trade_no', '=', outTradeNo)
          .where('type', '=', type)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('binds a receiver with its name stored sealed only', async () => {
    const rows = await h.vkPay.store.db.selectFrom('payment_split_receivers').selectAll().execute();
    const store = rows.find((row) => row.receiver_account === STORE)!;
    expect(store).toMatchObject({ type: 'MERCHANT_ID', relation_type: 'STORE' });
    expect(JSON.stringify(store.name_sealed)).not.toContain(STORE_NAME);
    expect(h.vkPay.context.sealer!.openValue(store.name_sealed)).toBe(STORE_NAME);
    const bound = await h.control('GET', `/profitsharing/receivers/${h.mchId}`);
    expect(JSON.stringify(bound.json)).toContain(STORE);
  });

  it('splits a paid order: PROCESSING, then FINISHED by the verified notifications, with its events', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const outSplitNo = splitNo();
    const { split, created } = await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [line(200), line(100)],
    });
    expect(created).toBe(true);
    expect(split).toMatchObject({ status: 'PROCESSING', amount: 300, kind: 'split' });
    expect(split.split_id).toMatch(/^\d+$/);
    // No query: the gateway's PROFITSHARING.SUCCESS notifications settle each line.
    const done = await eventually(
      () => stored(outSplitNo),
      (found) => found?.status === 'FINISHED',
    );
    expect(done?.status).toBe('FINISHED');
    expect(done?.lines.map((l) => l.result)).toEqual(['SUCCESS', 'SUCCESS']);
    expect(done?.lines.every((l) => l.detail_id && l.finished_at)).toBe(true);
    const events = await eventsOf(outTradeNo);
    expect(events.map((event) => event.type)).toEqual([
      'profit_sharing.processing',
      'profit_sharing.finished',
    ]);
    for (const event of events) expect(event.body).not.toContain(STORE_NAME);
    const summary = await h.vkPay.orderSplits(MERCHANT, outTradeNo);
    expect(summary).toMatchObject({ totalFen: 1000, splittableFen: 700, gatewayUnsplitFen: 700 });
  });

  it('makes one split and one gateway call of 50 concurrent identical requests; other content under the number is refused', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const outSplitNo = splitNo();
    const request = { merchantId: MERCHANT, outTradeNo, outSplitNo, lines: [line(150)] };
    const answers = await Promise.all(Array.from({ length: 50 }, () => h.vkPay.splitOrder(request)));
    expect(answers.filter((answer) => answer.created)).toHaveLength(1);
    expect(new Set(answers.map((answer) => answer.split.out_split_no))).toEqual(new Set([outSplitNo]));
    expect(await gatewayCalls(outTradeNo, 'profit_sharing_split')).toBe(1);
    expect(
      await h.vkPay.store.db
        .selectFrom('payment_splits')
        .select('id')
        .where('out_trade_no', '=', outTradeNo)
        .execute(),
    ).toHaveLength(1);
    const conflict = await h.vkPay.splitOrder({ ...request, lines: [line(151)] }).catch((error) => error);
    expect(conflict).toMatchObject({ code: 40001, field: 'out_split_no' });
  });

  it('never splits more than the order amount, however many different splits race', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const codes = await Promise.all(
      Array.from({ length: 10 }, () =>
        codeOf(
          h.vkPay.splitOrder({ merchantId: MERCHANT, outTradeNo, outSplitNo: splitNo(), lines: [line(150)] }),
        ),
      ),
    );
    expect(codes.filter((code) => code === 0)).toHaveLength(6);
    expect(codes.filter((code) => code === 40001)).toHaveLength(4);
    const summary = await h.vkPay.orderSplits(MERCHANT, outTradeNo);
    expect(summary.splits.reduce((sum, split) => sum + split.amount, 0)).toBe(900);
    expect(summary.splittableFen).toBe(100);
    expect(summary.gatewayUnsplitFen).toBe(100);
    // A refund races splits the same way: both under the order's lock.
    const refund = await codeOf(
      h.vkPay.refund({
        merchantId: MERCHANT,
        out_trade_no: outTradeNo,
        out_refund_no: orderNo(),
        refund_fee: 101,
      }),
    );
    expect(refund).toBe(40001);
  });

  it('a refund and a split racing for the same money: exactly one of them gets it', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const [split, refund] = await Promise.all([
      codeOf(
        h.vkPay.splitOrder({ merchantId: MERCHANT, outTradeNo, outSplitNo: splitNo(), lines: [line(600)] }),
      ),
      codeOf(
        h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: outTradeNo,
          out_refund_no: orderNo(),
          refund_fee: 600,
        }),
      ),
    ]);
    expect([split, refund].sort()).toEqual([0, 40001]);
  });

  it('refuses a refund of split money (changing nothing) until the split is returned, then refunds', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const outSplitNo = splitNo();
    await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [line(300)],
      finish: true,
    });
    await eventually(
      () => stored(outSplitNo),
      (found) => found?.status === 'FINISHED',
    );
    const secondNo = orderNo();
    const refused = await h.vkPay
      .refund({ merchantId: MERCHANT, out_trade_no: outTradeNo, out_refund_no: secondNo, refund_fee: 1000 })
      .catch((error) => error);
    expect(refused).toMatchObject({
      code: 40001,
      field: 'refund_fee',
      details: { returnFirstFen: 300, unsplitFen: 700 },
    });
    expect(refused.toResult('en').action).toMatch(/Return 300 fen of the splits first/);
    expect(
      await h.vkPay.store.db
        .selectFrom('payment_refunds')
        .select('id')
        .where('out_refund_no', '=', secondNo)
        .execute(),
    ).toHaveLength(0);

    // A return asks no more than the receiver got.
    expect(
      await codeOf(
        h.vkPay.returnSplit({
          merchantId: MERCHANT,
          outSplitNo,
          outReturnNo: orderNo(),
          receiverAccount: STORE,
          amountFen: 301,
          description: '退款前回退',
        }),
      ),
    ).toBe(40001);
    const outReturnNo = orderNo();
    const { ret } = await h.vkPay.returnSplit({
      merchantId: MERCHANT,
      outSplitNo,
      outReturnNo,
      receiverAccount: STORE,
      amountFen: 300,
      description: '退款前回退',
    });
    expect(['PROCESSING', 'SUCCESS']).toContain(ret.status);
    const returned = await eventually(
      () => h.vkPay.queryReturn(MERCHANT, outReturnNo),
      (found) => found.ret.status === 'SUCCESS',
    );
    expect(returned.ret).toMatchObject({ status: 'SUCCESS', amount: 300, with_refund: false });
    expect((await eventsOf(outTradeNo)).map((event) => event.type)).toContain('profit_sharing.returned');

    // The same number, refused before without a trace, now refunds the whole order.
    const second = await eventually(
      () =>
        h.vkPay
          .refund({
            merchantId: MERCHANT,
            out_trade_no: outTradeNo,
            out_refund_no: secondNo,
            refund_fee: 1000,
          })
          .catch((error) => error),
      (answer) => 'refund' in answer,
    );
    expect(second.refund.status).not.toBe('REFUSED');
  });

  it('a line to a closed receiver account is CLOSED by its notification, and its amount may be split again', async () => {
    const closedStore = '1900007599';
    await h.vkPay.addSplitReceiver({
      merchantId: MERCHANT,
      provider: 'wxpay',
      receiver: { type: 'MERCHANT_ID', account: closedStore, name: '关闭门店', relationType: 'STORE' },
    });
    expect(
      (await h.control('POST', '/profitsharing/accounts', { account: closedStore, status: 'CLOSED' })).status,
    ).toBe(200);
    const outTradeNo = await paidForSplitting(1000);
    const outSplitNo = splitNo();
    await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [line(100), { ...line(400), account: closedStore }],
    });
    const done = await eventually(
      () => stored(outSplitNo),
      (found) => found?.status === 'FINISHED',
    );
    expect(done?.lines.map((l) => [l.result, l.fail_reason])).toEqual([
      ['SUCCESS', null],
      ['CLOSED', expect.any(String)],
    ]);
    expect((await eventsOf(outTradeNo)).map((event) => event.type)).toEqual([
      'profit_sharing.processing',
      'profit_sharing.line_closed',
      'profit_sharing.finished',
    ]);
    expect((await h.vkPay.orderSplits(MERCHANT, outTradeNo)).splittableFen).toBe(900);
  });

  it('a split the gateway refuses (an unbound receiver) is FAILED and its amount is free again', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const outSplitNo = splitNo();
    const { split } = await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [{ ...line(500), account: '1900009999' }],
    });
    expect(split.status).toBe('FAILED');
    expect(split.fail_reason).toBeTruthy();
    expect((await eventsOf(outTradeNo)).map((event) => event.type)).toEqual(['profit_sharing.failed']);
    expect((await h.vkPay.orderSplits(MERCHANT, outTradeNo)).splittableFen).toBe(1000);
    // The same number answers the same FAILED split; nothing is sent again.
    const again = await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [{ ...line(500), account: '1900009999' }],
    });
    expect(again).toMatchObject({ created: false, split: { status: 'FAILED' } });
    expect(await gatewayCalls(outTradeNo, 'profit_sharing_split')).toBe(1);
  });

  it('unfreezes the rest; no split of the order after it', async () => {
    const outTradeNo = await paidForSplitting(1000);
    await h.vkPay.splitOrder({ merchantId: MERCHANT, outTradeNo, outSplitNo: splitNo(), lines: [line(100)] });
    const outSplitNo = splitNo();
    const { split } = await h.vkPay.unfreezeOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      description: '解冻剩余资金',
    });
    expect(split).toMatchObject({ kind: 'unfreeze', finish: true, amount: 900 });
    const done = await eventually(
      () => h.vkPay.querySplit(MERCHANT, outSplitNo),
      (found) => found.split.status === 'FINISHED',
    );
    expect(done.split.status).toBe('FINISHED');
    expect((await eventsOf(outTradeNo)).map((event) => event.type)).toContain('profit_sharing.unfrozen');
    const after = await h.vkPay
      .splitOrder({ merchantId: MERCHANT, outTradeNo, outSplitNo: splitNo(), lines: [line(10)] })
      .catch((error) => error);
    expect(after).toMatchObject({ code: 40001, field: 'out_trade_no' });
  });

  it('a split whose answer was lost stays UNKNOWN (holding its amount) until a query with its number settles it', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const fault = await h.control('POST', '/faults', {
      kind: 'systemError',
      operation: 'profitSharing',
      outTradeNo,
      afterHandling: true,
      // Every attempt of the transport's retries loses its answer.
      times: 3,
    });
    expect(fault.status).toBe(200);
    const outSplitNo = splitNo();
    const { split } = await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [line(400)],
    });
    expect(split.status).toBe('UNKNOWN');
    expect((await h.vkPay.orderSplits(MERCHANT, outTradeNo)).splittableFen).toBe(600);
    expect(
      await codeOf(
        h.vkPay.splitOrder({ merchantId: MERCHANT, outTradeNo, outSplitNo: splitNo(), lines: [line(601)] }),
      ),
    ).toBe(40001);
    // The job asks by the same number; the gateway holds the split, so it is not sent again.
    const settled = await eventually(
      async () => {
        await syncProfitSharing(h.vkPay.context);
        return stored(outSplitNo);
      },
      (found) => found?.status !== 'UNKNOWN',
    );
    expect(['PROCESSING', 'FINISHED']).toContain(settled?.status);
    expect(settled?.split_id).toMatch(/^\d+$/);
    const queried = await h.vkPay.querySplit(MERCHANT, outSplitNo);
    expect(queried.fresh).toBe(true);
    expect(await gatewayCalls(outTradeNo, 'profit_sharing_split')).toBe(1);
  });

  it('a split the gateway never received is sent again with the same number when the query finds nothing', async () => {
    const outTradeNo = await paidForSplitting(1000);
    // Every attempt fails before the gateway handles it: the outcome is unknown here.
    await h.control('POST', '/faults', {
      kind: 'systemError',
      operation: 'profitSharing',
      outTradeNo,
      times: 3,
    });
    const outSplitNo = splitNo();
    const { split } = await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [line(200)],
    });
    expect(split.status).toBe('UNKNOWN');
    const queried = await h.vkPay.querySplit(MERCHANT, outSplitNo);
    expect(['PROCESSING', 'FINISHED']).toContain(queried.split.status);
    expect(queried.split.out_split_no).toBe(outSplitNo);
    expect(await gatewayCalls(outTradeNo, 'profit_sharing_split')).toBe(2);
    expect((await h.vkPay.orderSplits(MERCHANT, outTradeNo)).gatewayUnsplitFen).toBe(800);
  });

  it('a return whose answer was lost stays UNKNOWN until the job asks by its number', async () => {
    const outTradeNo = await paidForSplitting(1000);
    const outSplitNo = splitNo();
    await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo,
      outSplitNo,
      lines: [line(200)],
      finish: true,
    });
    await eventually(
      () => stored(outSplitNo),
      (found) => found?.status === 'FINISHED',
    );
    await h.control('POST', '/faults', {
      kind: 'systemError',
      operation: 'profitSharingReturn',
      afterHandling: true,
      times: 3,
    });
    const outReturnNo = orderNo();
    const { ret } = await h.vkPay.returnSplit({
      merchantId: MERCHANT,
      outSplitNo,
      outReturnNo,
      receiverAccount: STORE,
      amountFen: 200,
      description: '回退',
    });
    expect(ret.status).toBe('UNKNOWN');
    // Not returned yet: the refund still cannot take it.
    expect(
      await codeOf(
        h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: outTradeNo,
          out_refund_no: orderNo(),
          refund_fee: 1000,
        }),
      ),
    ).toBe(40001);
    const settled = await eventually(
      async () => {
        await syncProfitSharing(h.vkPay.context);
        return (await h.vkPay.orderSplits(MERCHANT, outTradeNo)).returns[0]!;
      },
      (found) => found.status === 'SUCCESS',
    );
    expect(settled).toMatchObject({ status: 'SUCCESS', amount: 200, out_return_no: outReturnNo });
    expect(await gatewayCalls(outTradeNo, 'profit_sharing_return')).toBe(1);
  });

  it('the job claims the oldest due first and sends a stuck split to the back, so the others get their turn', async () => {
    // A split the gateway can never answer about: its order's merchant is not configured here.
    const now = new Date();
    const ghostOrder = await h.vkPay.store.db
      .insertInto('payment_orders')
      .values({
        merchant_id: 'ghost-merchant',
        out_trade_no: orderNo(),
        provider: 'wxpay',
        scene: 'native',
        type: 'goods',
        subject: '无人订单',
        total_fee: 1000,
        status: 'SUCCESS',
        transaction_id: '4200000000000000000000000001',
        profit_sharing: true,
        create_date: now,
        update_date: now,
      })
      .returning(['id', 'out_trade_no'])
      .executeTakeFirstOrThrow();
    const ghostNo = splitNo();
    await h.vkPay.store.db
      .insertInto('payment_splits')
      .values({
        order_id: ghostOrder.id,
        merchant_id: 'ghost-merchant',
        provider: 'wxpay',
        account: 'default',
        out_trade_no: ghostOrder.out_trade_no,
        out_split_no: ghostNo,
        kind: 'split',
        status: 'UNKNOWN',
        finish: false,
        amount: 100,
        next_check_at: new Date(now.getTime() - 60_000),
        create_date: new Date(now.getTime() - 120_000),
        update_date: now,
      })
      .execute();
    const outTradeNo = await paidForSplitting(1000);
    await h.control('POST', '/faults', {
      kind: 'systemError',
      operation: 'profitSharing',
      outTradeNo,
      afterHandling: true,
      times: 3,
    });
    const outSplitNo = splitNo();
    expect(
      (await h.vkPay.splitOrder({ merchantId: MERCHANT, outTradeNo, outSplitNo, lines: [line(100)] })).split
        .status,
    ).toBe('UNKNOWN');
    // Due after the stuck one, before anything else due.
    await h.vkPay.store.db
      .updateTable('payment_splits')
      .set({ next_check_at: new Date(now.getTime() - 30_000) })
      .where('out_split_no', '=', outSplitNo)
      .execute();
    const settings = h.vkPay.context.profitSharing!;
    const sync = settings.sync;
    settings.sync = { ...sync, batchSize: 1 };
    try {
      const first = await syncProfitSharing(h.vkPay.context);
      expect(first.failed).toBeGreaterThanOrEqual(1);
      expect((await stored(outSplitNo))?.status).toBe('UNKNOWN');
      await syncProfitSharing(h.vkPay.context);
      expect((await stored(outSplitNo))?.status).not.toBe('UNKNOWN');
    } finally {
      settings.sync = sync;
      // The stuck one leaves the queue, so other tests' ticks are not held by it.
      await h.vkPay.store.db
        .updateTable('payment_splits')
        .set({ next_check_at: null })
        .where('out_split_no', '=', ghostNo)
        .execute();
    }
    const ghost = await findSplit(h.vkPay.store.db, 'ghost-merchant', ghostNo);
    expect(ghost).toMatchObject({ status: 'UNKNOWN', checks: 1 });
  });

  it('a split rule for the order type splits a paid order once, by the job, rounding down', async () => {
    const outTradeNo = await paidForSplitting(1001, 'vip', undefined);
    const order = await h.vkPay.getOrder(MERCHANT, outTradeNo);
    await Promise.all([syncProfitSharing(h.vkPay.context), syncProfitSharing(h.vkPay.context)]);
    await syncProfitSharing(h.vkPay.context);
    const split = await stored(ruleSplitNo(order.id));
    expect(split).toMatchObject({ amount: 333, finish: true });
    expect(
      await h.vkPay.store.db
        .selectFrom('payment_splits')
        .select('id')
        .where('out_trade_no', '=', outTradeNo)
        .execute(),
    ).toHaveLength(1);
    expect(await gatewayCalls(outTradeNo, 'profit_sharing_split')).toBe(1);
  });

  it('an order not created for profit sharing cannot be split', async () => {
    const plain = orderNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: plain,
      total_fee: 100,
      subject: '普通订单',
      type: 'goods',
    });
    await h.control('POST', `/trades/${h.mchId}/${plain}/pay`);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, plain),
      (found) => found.status === 'SUCCESS',
    );
    const notFrozen = await h.vkPay
      .splitOrder({ merchantId: MERCHANT, outTradeNo: plain, outSplitNo: splitNo(), lines: [line(10)] })
      .catch((error) => error);
    expect(notFrozen).toMatchObject({ code: 40009 });
  });

  it('serves the API in the envelope, and the notify route answers 404 to an unknown merchant and never 5xx', async () => {
    const outTradeNo = orderNo();
    const paying = await api('POST', '/api/payments', {
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: outTradeNo,
      total_fee: 500,
      subject: '分账订单',
      type: 'goods',
      profit_sharing: true,
    });
    expect(paying.json).toMatchObject({ code: 0, data: { order: { profit_sharing: true } } });
    expect((await h.vkPay.getOrder(MERCHANT, outTradeNo)).profitSharing).toBe(true);
    await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/pay`);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, outTradeNo),
      (found) => found.status === 'SUCCESS',
    );
    const outSplitNo = splitNo();
    const created = await api('POST', '/api/profit-sharing/splits', {
      out_trade_no: outTradeNo,
      out_split_no: outSplitNo,
      receivers: [{ type: 'MERCHANT_ID', account: STORE, amount: 100, description: '门店分成' }],
    });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ code: 0, data: { created: true, split: { amount: 100 } } });
    const queried = await api('GET', `/api/profit-sharing/splits/${outSplitNo}`);
    expect(queried.json).toMatchObject({ code: 0, data: { split: { out_split_no: outSplitNo } } });
    const order = await api('GET', `/api/profit-sharing/orders/${outTradeNo}`);
    expect(order.json).toMatchObject({ code: 0, data: { total_fee: 500, splittable: 400 } });
    const over = await api('POST', '/api/profit-sharing/splits', {
      out_trade_no: outTradeNo,
      out_split_no: splitNo(),
      receivers: [{ type: 'MERCHANT_ID', account: STORE, amount: 401, description: '门店分成' }],
    });
    expect(over.status).toBe(400);
    expect(over.json).toMatchObject({ code: 40001 });
    const missing = await api('GET', '/api/profit-sharing/splits/NOPE');
    expect(missing.json.code).toBe(40005);

    const unknown = await fetch(`${baseUrl}/notify-profit-sharing/wxpay/nobody`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unknown.status).toBe(404);
    for (const body of ['{}', 'not json', '\u0000\u0001']) {
      const forged = await fetch(`${baseUrl}/notify-profit-sharing/wxpay/${MERCHANT}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(forged.status).toBeLessThan(500);
    }
  });
});
