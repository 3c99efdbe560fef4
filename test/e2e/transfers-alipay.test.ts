import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceContext } from '../../src/service/context.ts';
import { syncPendingTransfers } from '../../src/service/transfer-flow.ts';
import { backends } from '../support/backends.ts';
import {
  codeOf,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const transferNo = tradeNumbers('TA');

describe.each(backends)('Alipay transfers on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      timeoutMs: 600,
      vkPay: {
        sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] },
        transfers: { approvalThresholdFen: 50_000 },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const userId = () => `2088${randomBytes(6).readUIntBE(0, 6).toString().padStart(12, '0').slice(0, 12)}`;
  const payee = async (
    status: 'NORMAL' | 'FROZEN' | 'CLOSED',
    settle: 'at_once' | 'later',
    name?: string,
  ) => {
    const identity = userId();
    const answer = await h.alipay.control('POST', '/transfers/payees', {
      identity,
      status,
      settle,
      ...(name ? { name } : {}),
    });
    expect(answer.status).toBe(200);
    return identity;
  };
  const request = (no: string, identity: string, amountFen: number, name?: string) => ({
    merchantId: MERCHANT,
    provider: 'alipay',
    outTransferNo: no,
    amountFen,
    payee: { identityType: 'ALIPAY_USER_ID' as const, identity, ...(name ? { name } : {}) },
    remark: '提现',
    requestedBy: 'alice',
  });
  const order = (no: string) => h.alipay.control('GET', `/transfers/${h.alipay.appId}/${no}`);
  const stored = async (no: string) =>
    (await h.vkPay.listTransfers([MERCHANT])).find((transfer) => transfer.outTransferNo === no)!;

  it('a transfer to a normal account succeeds at once, in yuan at the gateway and fen here', async () => {
    const no = transferNo();
    const identity = await payee('NORMAL', 'at_once', '张三');
    const { transfer } = await h.vkPay.transfer(request(no, identity, 1234, '张三'));
    expect(transfer).toMatchObject({ status: 'SUCCESS', amountFen: 1234 });
    expect((await order(no)).json).toMatchObject({
      status: 'SUCCESS',
      trans_amount: '12.34',
      name: '张三',
      requests: 1,
    });
    // Its message is acknowledged and changes nothing more.
    const acknowledged = await eventually(
      () => order(no),
      (answer) => answer.json.notifications.some((n: { body?: string }) => n.body === 'success'),
    );
    expect(acknowledged.json.notifications.at(-1).body).toBe('success');
  });

  it('a frozen or closed account fails with PAYEE_ACCOUNT_STATUS_ERROR, a wrong name with PAYEE_USER_INFO_ERROR', async () => {
    for (const status of ['FROZEN', 'CLOSED'] as const) {
      const no = transferNo();
      const { transfer } = await h.vkPay.transfer(request(no, await payee(status, 'at_once'), 500));
      expect(transfer).toMatchObject({ status: 'FAILED', failReason: 'PAYEE_ACCOUNT_STATUS_ERROR' });
    }
    const no = transferNo();
    const { transfer } = await h.vkPay.transfer(
      request(no, await payee('NORMAL', 'at_once', '张三'), 500, '李四'),
    );
    expect(transfer).toMatchObject({ status: 'FAILED', failReason: 'PAYEE_USER_INFO_ERROR' });
  });

  it('a WeChat identity is refused for Alipay before anything is stored', async () => {
    const no = transferNo();
    const refused = h.vkPay.transfer({
      ...request(no, 'oABC', 100),
      payee: { identityType: 'OPENID', identity: 'oABC' },
    });
    expect(await codeOf(refused)).toBe(40001);
    expect(await codeOf(h.vkPay.queryTransfer(MERCHANT, no))).toBe(40005);
  });

  it('a transfer still DEALING is settled by its message', async () => {
    const no = transferNo();
    const { transfer } = await h.vkPay.transfer(request(no, await payee('NORMAL', 'later'), 800));
    expect(transfer.status).toBe('PROCESSING');
    const done = await eventually(
      () => stored(no),
      (t) => t.status === 'SUCCESS',
    );
    expect(done.status).toBe('SUCCESS');
  });

  it('a create whose answer is lost is UNKNOWN and settled by a query with the same out_biz_no', async () => {
    const no = transferNo();
    const identity = await payee('NORMAL', 'at_once');
    await h.alipay.control('POST', '/faults', {
      kind: 'hang',
      method: 'alipay.fund.trans.uni.transfer',
      outTradeNo: no,
      afterHandling: true,
    });
    await h.alipay.control('POST', '/faults', { channel: 'notify', kind: 'drop', outTradeNo: no });
    const { transfer } = await h.vkPay.transfer(request(no, identity, 900));
    expect(transfer.status).toBe('UNKNOWN');
    const later: ServiceContext = { ...h.vkPay.context, now: () => new Date(Date.now() + 120_000) };
    const report = await syncPendingTransfers(later);
    expect(report.settled).toBeGreaterThanOrEqual(1);
    expect((await stored(no)).status).toBe('SUCCESS');
    expect((await order(no)).json.requests).toBe(1);
  });

  it('a create the gateway never saw is sent again with the same out_biz_no once a query finds nothing', async () => {
    const no = transferNo();
    const identity = await payee('NORMAL', 'at_once');
    await h.alipay.control('POST', '/faults', {
      kind: 'hang',
      method: 'alipay.fund.trans.uni.transfer',
      outTradeNo: no,
    });
    const { transfer } = await h.vkPay.transfer(request(no, identity, 700));
    expect(transfer.status).toBe('UNKNOWN');
    expect((await order(no)).status).toBe(404);
    const { transfer: settled } = await h.vkPay.queryTransfer(MERCHANT, no);
    expect(settled.status).toBe('SUCCESS');
    expect((await order(no)).json).toMatchObject({ requests: 1, trans_amount: '7.00' });
  });
});
