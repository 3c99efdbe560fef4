/**
 * The emulator's profit sharing over signed gateway.do calls written from the protocol (no provider
 * code): sync settles, queries by settle_no, the settle rules, the notification and its faults, and
 * relations and settles kept in the state file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AlipayGateway,
  alipaySandboxPlugin,
  type RunningAlipaySandbox,
  SANDBOX_PATH,
  startAlipaySandbox,
} from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  type NotifyReceiver,
  parseResponse,
  postForm,
  registerTestApp,
  rsa2Verify,
  signedRequest,
  startNotifyReceiver,
  type TestApp,
  testNotifySigningString,
  waitFor,
} from './helpers.ts';

const RECEIVER = '2088000000000301';
let sandbox: RunningAlipaySandbox;
let app: TestApp;
let sequence = 0;

beforeAll(async () => {
  sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
  app = await registerTestApp(sandbox);
  const bound = await app.call('alipay.trade.royalty.relation.bind', {
    receiver_list: [{ type: 'userId', account: RECEIVER }],
    out_request_no: 'BIND-1',
  });
  expect(bound.inner).toMatchObject({ code: '10000', result_code: 'SUCCESS' });
});
afterEach(async () => {
  await controlJson(`${sandbox.controlUrl}/faults`, undefined, 'DELETE');
});
afterAll(async () => sandbox.close());

/** A paid trade.create trade; royalty_freeze unless told otherwise. */
async function paidTrade(on: { controlUrl: string }, caller: TestApp, total = '10.00', freeze = true) {
  const outTradeNo = `RY-${Date.now()}-${++sequence}`;
  const created = await caller.call('alipay.trade.create', {
    out_trade_no: outTradeNo,
    total_amount: total,
    subject: 'royalty',
    buyer_id: '2088000000000007',
    ...(freeze ? { extend_params: { royalty_freeze: 'true' } } : {}),
  });
  expect(created.inner.code).toBe('10000');
  await controlJson(`${on.controlUrl}/trades/${caller.appId}/${outTradeNo}/pay`, {});
  return { outTradeNo, tradeNo: created.inner.trade_no! };
}

const settleBiz = (
  tradeNo: string,
  outRequestNo: string,
  amount: string,
  extra: Record<string, unknown> = {},
) => ({
  out_request_no: outRequestNo,
  trade_no: tradeNo,
  royalty_parameters: [
    { royalty_type: 'transfer', trans_in_type: 'userId', trans_in: RECEIVER, amount, desc: 'd' },
  ],
  ...extra,
});

describe('alipay emulator profit sharing', () => {
  it('a sync settle pays at once; the query by settle_no and by out_request_no + trade_no agree', async () => {
    const { tradeNo } = await paidTrade(sandbox, app);
    const settled = await app.call('alipay.trade.order.settle', settleBiz(tradeNo, 'SY-1', '2.50'));
    expect(rsa2Verify(settled.signedText, settled.sign!, app.credentials.alipayPublicKey!)).toBe(true);
    expect(settled.inner).toMatchObject({ code: '10000', trade_no: tradeNo });
    const byNo = await app.call('alipay.trade.order.settle.query', { settle_no: settled.inner.settle_no });
    const byRequest = await app.call('alipay.trade.order.settle.query', {
      out_request_no: 'SY-1',
      trade_no: tradeNo,
    });
    expect(byNo.inner).toEqual(byRequest.inner);
    expect(byNo.inner).toMatchObject({
      code: '10000',
      out_request_no: 'SY-1',
      royalty_detail_list: [
        expect.objectContaining({
          operation_type: 'transfer',
          trans_out: app.credentials.sellerId,
          trans_in: RECEIVER,
          trans_in_type: 'userId',
          amount: '2.50',
          state: 'SUCCESS',
        }),
      ],
    });
    const unsettled = await app.call('alipay.trade.order.onsettle.query', { trade_no: tradeNo });
    expect(unsettled.inner.unsettled_amount).toBe('7.50');
  });

  it('refuses an unpaid trade, a trans_out other than the seller, and an empty list without finish', async () => {
    const created = await app.call('alipay.trade.create', {
      out_trade_no: `RY-UNPAID-${++sequence}`,
      total_amount: '1.00',
      subject: 'x',
      buyer_id: '2088000000000007',
      extend_params: { royalty_freeze: 'true' },
    });
    const unpaid = await app.call(
      'alipay.trade.order.settle',
      settleBiz(created.inner.trade_no!, 'UP-1', '0.10'),
    );
    expect(unpaid.inner.sub_code).toBe('ACQ.TRADE_STATUS_ERROR');

    const { tradeNo } = await paidTrade(sandbox, app);
    const biz = settleBiz(tradeNo, 'TO-1', '0.10');
    (biz.royalty_parameters[0] as Record<string, string>).trans_out = '2088999999999999';
    expect((await app.call('alipay.trade.order.settle', biz)).inner.sub_code).toBe('ACQ.INVALID_PARAMETER');
    const empty = await app.call('alipay.trade.order.settle', {
      ...settleBiz(tradeNo, 'EM-1', '0.10'),
      royalty_parameters: [],
    });
    expect(empty.inner.sub_code).toBe('ACQ.INVALID_PARAMETER');
    const unfreeze = await app.call('alipay.trade.order.settle', {
      ...settleBiz(tradeNo, 'EM-2', '0.10'),
      royalty_parameters: [],
      extend_params: { royalty_finish: 'true' },
    });
    expect(unfreeze.inner.code).toBe('10000');
    const query = await app.call('alipay.trade.order.settle.query', {
      out_request_no: 'EM-2',
      trade_no: tradeNo,
    });
    expect(query.inner.royalty_detail_list).toEqual([]);
  });

  it('a refund without splits back draws from the frozen amount; bind requests are idempotent by number', async () => {
    const { outTradeNo, tradeNo } = await paidTrade(sandbox, app, '5.00');
    await app.call('alipay.trade.order.settle', settleBiz(tradeNo, 'RF-1', '4.00'));
    const refused = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '2.00',
      out_request_no: 'RF-R1',
    });
    expect(refused.inner.sub_code).toBe('ACQ.SELLER_BALANCE_NOT_ENOUGH');
    const ok = await app.call('alipay.trade.refund', {
      out_trade_no: outTradeNo,
      refund_amount: '2.00',
      out_request_no: 'RF-R1',
      refund_royalty_parameters: [
        { royalty_type: 'transfer', trans_out_type: 'userId', trans_out: RECEIVER, amount: '1.00' },
      ],
    });
    expect(ok.inner).toMatchObject({ code: '10000', fund_change: 'Y', refund_fee: '2.00' });
    const view = await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}`);
    expect(view.json).toMatchObject({
      royaltyFreeze: true,
      royalty: {
        unsettledFen: 0,
        releasedFen: 0,
        finished: false,
        received: { [`userId:${RECEIVER}`]: 300 },
        settles: ['RF-1'],
      },
    });

    const rebind = await app.call('alipay.trade.royalty.relation.bind', {
      receiver_list: [{ type: 'userId', account: '2088000000000302' }],
      out_request_no: 'BIND-1',
    });
    expect(rebind.inner.sub_code).toBe('ACQ.DISCORDANT_REPEAT_REQUEST');
  });

  it('an async settle is notified, signed; a dropped first send is resent until answered success', async () => {
    const receiver: NotifyReceiver = await startNotifyReceiver(['fail']);
    try {
      const { tradeNo } = await paidTrade(sandbox, app);
      await controlJson(`${sandbox.controlUrl}/faults`, {
        channel: 'notify',
        kind: 'drop',
        outTradeNo: 'AS-1',
      });
      const settled = await app.call(
        'alipay.trade.order.settle',
        settleBiz(tradeNo, 'AS-1', '1.00', { royalty_mode: 'async' }),
        { notify_url: receiver.url },
      );
      expect(settled.inner.code).toBe('10000');
      const [first, resent] = await waitFor(() =>
        receiver.received.length >= 2 ? receiver.received : undefined,
      );
      expect(first!.rawBody).toBe(resent!.rawBody);
      const { sign, ...fields } = first!.params;
      expect(rsa2Verify(testNotifySigningString(fields), sign!, app.credentials.alipayPublicKey!)).toBe(true);
      expect(fields).toMatchObject({ msg_method: 'alipay.trade.order.settle.notify', app_id: app.appId });
      expect(JSON.parse(fields.biz_content!)).toMatchObject({
        out_request_no: 'AS-1',
        trade_no: tradeNo,
        settle_no: settled.inner.settle_no,
        royalty_detail_list: [expect.objectContaining({ state: 'SUCCESS', amount: '1.00' })],
      });
      let log = await controlJson<{ notifications: unknown[] }>(
        `${sandbox.controlUrl}/royalty/${app.appId}/settles/AS-1`,
      );
      for (let tries = 0; log.json.notifications.length < 3 && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        log = await controlJson(`${sandbox.controlUrl}/royalty/${app.appId}/settles/AS-1`);
      }
      expect(log.json.notifications).toEqual([
        { error: 'dropped' },
        { status: 200, body: 'fail' },
        { status: 200, body: 'success' },
      ]);
    } finally {
      await receiver.close();
    }
  });
});

describe('alipay emulator profit sharing in the state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-alipay-royalty-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function persisted(file: string) {
    const gateway = await AlipayGateway.create({ timeFactor: 0.001 });
    await gateway.persistTo(file);
    const server = Fastify({ forceCloseConnections: true });
    await server.register(alipaySandboxPlugin({ gateway }));
    await server.listen({ host: '127.0.0.1', port: 0 });
    const { port } = server.server.address() as { port: number };
    const url = `http://127.0.0.1:${port}`;
    return { server, gatewayUrl: `${url}/gateway.do`, controlUrl: `${url}${SANDBOX_PATH}` };
  }

  it('keeps relations, settles and what is still frozen across a restart', async () => {
    const file = join(dir, 'alipay.json');
    const first = await persisted(file);
    const kept = await registerTestApp(first);
    await kept.call('alipay.trade.royalty.relation.bind', {
      receiver_list: [{ type: 'userId', account: RECEIVER }],
      out_request_no: 'KB-1',
    });
    const { tradeNo } = await paidTrade(first, kept);
    await kept.call('alipay.trade.order.settle', settleBiz(tradeNo, 'KS-1', '3.00'));
    // Still PROCESSING when the emulator stops: it finishes after the restart.
    await kept.call(
      'alipay.trade.order.settle',
      settleBiz(tradeNo, 'KS-A', '0.50', { royalty_mode: 'async' }),
    );
    await first.server.close();

    const second = await persisted(file);
    const call = async (method: string, biz: Record<string, unknown>) => {
      const { text } = await postForm(
        second.gatewayUrl,
        signedRequest(kept.appId, method, biz, kept.keys.privateKey),
      );
      return parseResponse(text, `${method.replace(/\./g, '_')}_response`).inner;
    };
    expect((await call('alipay.trade.order.onsettle.query', { trade_no: tradeNo })).unsettled_amount).toBe(
      '6.50',
    );
    // Without its timer resumed, the line would stay PROCESSING for ever.
    let resumed = await call('alipay.trade.order.settle.query', {
      out_request_no: 'KS-A',
      trade_no: tradeNo,
    });
    for (let tries = 0; tries < 100 && JSON.stringify(resumed).includes('PROCESSING'); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      resumed = await call('alipay.trade.order.settle.query', { out_request_no: 'KS-A', trade_no: tradeNo });
    }
    expect(resumed.royalty_detail_list).toEqual([
      expect.objectContaining({ state: 'SUCCESS', amount: '0.50' }),
    ]);
    expect(
      await call('alipay.trade.order.settle.query', { out_request_no: 'KS-1', trade_no: tradeNo }),
    ).toMatchObject({
      royalty_detail_list: [expect.objectContaining({ amount: '3.00', state: 'SUCCESS' })],
    });
    // Still bound: a new settle to the receiver is taken.
    expect((await call('alipay.trade.order.settle', settleBiz(tradeNo, 'KS-2', '1.00'))).code).toBe('10000');
    await second.server.close();
  });
});
