import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceContext } from '../../src/service/context.ts';
import { syncPendingTransfers } from '../../src/service/transfer-flow.ts';
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

const transferNo = tradeNumbers('TW');
const REPORT = [
  { infoType: '活动名称', infoContent: '新会员有礼' },
  { infoType: '奖励说明', infoContent: '注册奖励' },
];

describe.each(backends)('WeChat Pay transfers on $name', (backend) => {
  let h: WxpayHarness;
  let api: ReturnType<typeof signedApi>;
  const logLines: string[] = [];
  beforeAll(async () => {
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk, _encoding, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    );
    h = await startWxpayHarness(backend, {
      timeoutMs: 600,
      vkPay: {
        logger,
        sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] },
        transfers: { perTransferMaxFen: 100_000, dailyMaxFen: 1_000_000, approvalThresholdFen: 50_000 },
      },
    });
    api = signedApi(`http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`, API_APP);
  });
  afterAll(async () => {
    await h?.close();
  });

  const openid = () => `o${randomBytes(12).toString('hex')}`;
  const payee = async (
    status: 'NORMAL' | 'FROZEN' | 'CLOSED',
    confirm: 'required' | 'none',
    name?: string,
  ) => {
    const id = openid();
    const answer = await h.control('POST', '/transfers/payees', {
      openid: id,
      status,
      confirm,
      ...(name ? { name } : {}),
    });
    expect(answer.status).toBe(200);
    return id;
  };
  const request = (no: string, identity: string, amountFen: number, extra: Record<string, unknown> = {}) => ({
    merchantId: MERCHANT,
    provider: 'wxpay',
    outTransferNo: no,
    amountFen,
    payee: { identityType: 'OPENID' as const, identity },
    remark: '注册奖励',
    requestedBy: 'alice',
    sceneReportInfos: REPORT,
    ...extra,
  });
  const bill = (no: string) => h.control('GET', `/transfers/${h.mchId}/${no}`);
  const stored = (no: string) => h.vkPay.queryTransfer(MERCHANT, no).then((answer) => answer.transfer);
  const eventsOf = async (no: string) =>
    (
      await h.vkPay.store.db
        .selectFrom('webhook_events')
        .select(['type', 'payload'])
        .where(sql<boolean>`payload->'data'->'transfer'->>'out_transfer_no' = ${no}`)
        .orderBy('create_date')
        .execute()
    ).map((row) => row.type);

  it('a transfer waits for the buyer to confirm receipt, then succeeds by the notification', async () => {
    const no = transferNo();
    const id = await payee('NORMAL', 'required');
    const { transfer, created } = await h.vkPay.transfer(request(no, id, 300));
    expect(created).toBe(true);
    expect(transfer).toMatchObject({ status: 'WAIT_USER_CONFIRM', amountFen: 300 });
    expect(transfer.packageInfo).toMatch(/^[A-Za-z0-9]{64}$/);
    expect((await bill(no)).json).toMatchObject({
      state: 'WAIT_USER_CONFIRM',
      transfer_amount: 300,
      create_requests: 1,
    });
    expect((await h.control('POST', `/transfers/${h.mchId}/${no}/confirm`)).json.state).toBe('TRANSFERING');
    const done = await eventually(
      () => h.vkPay.listTransfers([MERCHANT]).then((all) => all.find((t) => t.outTransferNo === no)!),
      (t) => t.status === 'SUCCESS',
    );
    expect(done).toMatchObject({ status: 'SUCCESS', transferId: transfer.transferId });
    expect(done.successTime).not.toBeNull();
    expect(await eventsOf(no)).toEqual([
      'transfer.created',
      'transfer.wait_user_confirm',
      'transfer.succeeded',
    ]);
  });

  it('a transfer to a frozen account fails with the gateway reason, and one to a closed account too', async () => {
    for (const [status, reason] of [
      ['FROZEN', 'ACCOUNT_FROZEN'],
      ['CLOSED', 'ACCOUNT_NOT_EXIST'],
    ] as const) {
      const no = transferNo();
      const { transfer } = await h.vkPay.transfer(request(no, await payee(status, 'none'), 200));
      // Accepted first; the failure follows (its notification may even overtake the answer).
      expect(['PROCESSING', 'FAILED']).toContain(transfer.status);
      const failed = await eventually(
        () => h.vkPay.listTransfers([MERCHANT]).then((all) => all.find((t) => t.outTransferNo === no)!),
        (t) => t.status === 'FAILED',
      );
      expect(failed).toMatchObject({ status: 'FAILED', failReason: reason });
      const events = await eventsOf(no);
      expect(events[0]).toBe('transfer.created');
      expect(events.at(-1)).toBe('transfer.failed');
    }
  });

  it('a name that does not match the account fails the transfer; the name reaches the gateway encrypted', async () => {
    const no = transferNo();
    const id = await payee('NORMAL', 'none', '张三');
    await h.vkPay.transfer(
      request(no, id, 200, { payee: { identityType: 'OPENID', identity: id, name: '李四' } }),
    );
    expect((await bill(no)).json.user_name).toBe('李四');
    const failed = await eventually(
      () => stored(no),
      (t) => t.status === 'FAILED',
    );
    expect(failed.failReason).toBe('NAME_NOT_CORRECT');
  });

  it('a create whose answer is lost is UNKNOWN, and a query with the same number settles it without a second bill', async () => {
    const no = transferNo();
    const id = await payee('NORMAL', 'required');
    await h.control('POST', '/faults', {
      kind: 'hang',
      operation: 'transfer',
      outTradeNo: no,
      afterHandling: true,
    });
    const { transfer } = await h.vkPay.transfer(request(no, id, 150));
    expect(transfer.status).toBe('UNKNOWN');
    expect((await bill(no)).json.state).toBe('WAIT_USER_CONFIRM');
    const settled = await stored(no);
    expect(settled.status).toBe('WAIT_USER_CONFIRM');
    expect(settled.transferId).toBe((await bill(no)).json.transfer_bill_no);
    expect((await bill(no)).json.create_requests).toBe(1);
  });

  it('a create lost before the gateway saw it is sent again, once, with the same number after queries find nothing', async () => {
    const no = transferNo();
    const id = await payee('NORMAL', 'required');
    await h.control('POST', '/faults', { kind: 'hang', operation: 'transfer', outTradeNo: no });
    const { transfer } = await h.vkPay.transfer(request(no, id, 160));
    expect(transfer.status).toBe('UNKNOWN');
    expect((await bill(no)).status).toBe(404);
    // Five queries at once: each finds nothing at the gateway, one of them sends again.
    await Promise.all(Array.from({ length: 5 }, () => h.vkPay.queryTransfer(MERCHANT, no)));
    const settled = await eventually(
      () => stored(no),
      (t) => t.status === 'WAIT_USER_CONFIRM',
    );
    expect(settled.status).toBe('WAIT_USER_CONFIRM');
    const atGateway = (await bill(no)).json;
    expect(atGateway).toMatchObject({ out_bill_no: no, transfer_amount: 160, create_requests: 1 });
    const sends = await h.vkPay.store.db
      .selectFrom('payment_logs')
      .select('status')
      .where('type', '=', 'transfer')
      .where('out_trade_no', '=', no)
      .orderBy('id')
      .execute();
    expect(sends.map((send) => send.status)).toEqual(['ERROR', 'SUCCESS']);
  });

  it('50 concurrent creates with one out_transfer_no make one transfer and one gateway call', async () => {
    const no = transferNo();
    const id = await payee('NORMAL', 'required');
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => h.vkPay.transfer(request(no, id, 120))),
    );
    expect(answers.filter((answer) => answer.created)).toHaveLength(1);
    const rows = await h.vkPay.store.db
      .selectFrom('payment_transfers')
      .select('id')
      .where('out_transfer_no', '=', no)
      .execute();
    expect(rows).toHaveLength(1);
    expect((await bill(no)).json.create_requests).toBe(1);
    const calls = await h.vkPay.store.db
      .selectFrom('payment_logs')
      .select('id')
      .where('type', '=', 'transfer')
      .where('out_trade_no', '=', no)
      .execute();
    expect(calls).toHaveLength(1);
    // The same number with another amount is another transfer: refused.
    expect(await codeOf(h.vkPay.transfer(request(no, id, 121)))).toBe(40001);
  });

  it('limits hold: per transfer, and two transfers racing for the last of the daily limit', async () => {
    expect(await codeOf(h.vkPay.transfer(request(transferNo(), openid(), 100_001)))).toBe(40009);
    // A merchant without a gateway account for transfers is refused before anything is stored.
    expect(
      await codeOf(h.vkPay.transfer({ ...request(transferNo(), openid(), 100), merchantId: 'nobody' })),
    ).toBe(40001);
    const merchant = `lim${randomBytes(3).toString('hex')}`;
    h.vkPay.context.transfers!.merchants[merchant] = { dailyMaxFen: 1_000, approvalThresholdFen: null };
    // Reserved without sending (the merchant has no gateway account): the limits are what is tested.
    const race = await Promise.all(
      [600, 600].map((amount) =>
        codeOf(importCreate(h, { ...request(transferNo(), openid(), amount), merchantId: merchant })),
      ),
    );
    expect(race.sort()).toEqual([0, 40009]);
    expect(
      await codeOf(importCreate(h, { ...request(transferNo(), openid(), 400), merchantId: merchant })),
    ).toBe(0);
    expect(
      await codeOf(importCreate(h, { ...request(transferNo(), openid(), 1), merchantId: merchant })),
    ).toBe(40009);
  });

  it('above the threshold a transfer waits for a second person: not its requester; approved, it is sent', async () => {
    const no = transferNo();
    const id = await payee('NORMAL', 'required');
    const { transfer } = await h.vkPay.transfer(request(no, id, 60_000, { requestedBy: 'alice' }));
    expect(transfer.status).toBe('PENDING_APPROVAL');
    expect((await bill(no)).status).toBe(404);
    const own = await api('POST', `/api/transfers/${no}/approve`, { operator: 'alice' });
    expect(own.status).toBe(403);
    expect(own.json.code).toBe(40009);
    expect((await stored(no)).status).toBe('PENDING_APPROVAL');
    const approved = await api('POST', `/api/transfers/${no}/approve`, { operator: 'bob', note: 'ok' });
    expect(approved.status).toBe(200);
    expect(approved.json.data.transfer).toMatchObject({
      status: 'WAIT_USER_CONFIRM',
      decided_by: 'bob',
      requested_by: 'alice',
    });
    expect((await bill(no)).json.create_requests).toBe(1);
    const audit = await h.vkPay.store.db
      .selectFrom('console_audit')
      .select(['action', 'actor_name'])
      .where('target', '=', `${MERCHANT}/${no}`)
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { action: 'transfer.created', actor_name: 'alice' },
      { action: 'transfer.approved', actor_name: 'bob' },
    ]);

    const rejectedNo = transferNo();
    await h.vkPay.transfer(request(rejectedNo, id, 70_000, { requestedBy: 'carol' }));
    const rejected = await api('POST', `/api/transfers/${rejectedNo}/reject`, { operator: 'dave' });
    expect(rejected.json.data.transfer.status).toBe('REJECTED');
    expect((await bill(rejectedNo)).status).toBe(404);
    expect(await eventsOf(rejectedNo)).toEqual(['transfer.created', 'transfer.rejected']);
  });

  it('the HTTP API creates and queries in the envelope; the payee never comes back', async () => {
    const no = transferNo();
    const id = await payee('NORMAL', 'required');
    const created = await api('POST', '/api/transfers', {
      provider: 'wxpay',
      out_transfer_no: no,
      amount: 250,
      payee: { identity_type: 'OPENID', identity: id, name: '王五' },
      remark: '提现',
      operator: 'erin',
      scene_report_infos: REPORT.map((info) => ({
        info_type: info.infoType,
        info_content: info.infoContent,
      })),
    });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({
      code: 0,
      data: { created: true, transfer: { status: 'WAIT_USER_CONFIRM', amount: 250 } },
    });
    expect(JSON.stringify(created.json)).not.toContain(id);
    const queried = await api('GET', `/api/transfers/${no}`);
    expect(queried.json.data).toMatchObject({
      fresh: true,
      transfer: { out_transfer_no: no, status: 'WAIT_USER_CONFIRM' },
    });
    const missing = await api('GET', '/api/transfers/NOSUCH123');
    expect(missing.json.code).toBe(40005);
    const bad = await api('POST', '/api/transfers', { provider: 'wxpay', out_transfer_no: 'x', amount: 0 });
    expect(bad.json.code).toBe(40001);
    const cancelled = await api('POST', `/api/transfers/${no}/cancel`);
    expect(cancelled.json.data.transfer.status).toBe('PROCESSING');
    const gone = await eventually(
      () => stored(no),
      (t) => t.status === 'CANCELLED',
    );
    expect(gone.status).toBe('CANCELLED');
  });

  it('a transfer notification for an unknown merchant, account or provider is refused with a 4xx, never a 5xx', async () => {
    const base = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`;
    const post = (path: string) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'x', event_type: 'MCHTRANSFER.BILL.FINISHED' }),
      }).then((response) => response.status);
    expect(await post('/notify-transfer/wxpay/no-such-merchant')).toBe(404);
    expect(await post(`/notify-transfer/wxpay/${MERCHANT}/no-such-account`)).toBe(404);
    expect(await post(`/notify-transfer/nosuchpay/${MERCHANT}`)).toBe(404);
    // A known merchant with a body that does not verify: refused, not retried.
    expect(await post(`/notify-transfer/wxpay/${MERCHANT}`)).toBe(401);
  });

  it('the job settles transfers whose notification was lost, making progress on each though one stays stuck', async () => {
    const stuck = transferNo();
    const lost = transferNo();
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      outTradeNo: lost,
      times: 'always',
    });
    await h.control('POST', '/faults', {
      kind: 'systemError',
      operation: 'transferQuery',
      outTradeNo: stuck,
      times: 'always',
    });
    await h.vkPay.transfer(request(stuck, await payee('NORMAL', 'required'), 110));
    await h.vkPay.transfer(request(lost, await payee('NORMAL', 'none'), 130));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const later: ServiceContext = { ...h.vkPay.context, now: () => new Date(Date.now() + 120_000) };
    const report = await syncPendingTransfers(later);
    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(report.settled).toBeGreaterThanOrEqual(1);
    const [lostRow] = await h.vkPay
      .listTransfers([MERCHANT])
      .then((all) => all.filter((t) => t.outTransferNo === lost));
    expect(lostRow!.status).toBe('SUCCESS');
    // The stuck one was claimed and moved to the back: the next tick at the same time does not take it again.
    const again = await syncPendingTransfers(later);
    const stuckRow = await h.vkPay.store.db
      .selectFrom('payment_transfers')
      .select(['checks', 'status', 'next_check_at'])
      .where('out_transfer_no', '=', stuck)
      .executeTakeFirstOrThrow();
    expect(stuckRow.status).toBe('WAIT_USER_CONFIRM');
    expect(stuckRow.checks).toBe(1);
    expect(again.checked).toBe(0);
    await h.control('DELETE', '/faults');
  });

  it('the job sends an APPROVED transfer its sender never sent, and its events go to the default endpoint', async () => {
    const endpoint = await h.vkPay.createWebhookEndpoint(MERCHANT, { url: 'http://127.0.0.1:9/hooks' });
    const no = transferNo();
    const id = await payee('NORMAL', 'required');
    const { transfer } = await importCreate(h, request(no, id, 140));
    expect(transfer.status).toBe('APPROVED');
    expect((await bill(no)).status).toBe(404);
    const later: ServiceContext = { ...h.vkPay.context, now: () => new Date(Date.now() + 120_000) };
    const report = await syncPendingTransfers(later);
    expect(report.sent).toBe(1);
    expect((await stored(no)).status).toBe('WAIT_USER_CONFIRM');
    expect((await bill(no)).json.create_requests).toBe(1);
    const deliveries = await h.vkPay.store.db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhook_events', 'webhook_events.id', 'webhook_deliveries.event_id')
      .select(['webhook_events.type', 'webhook_deliveries.endpoint_id'])
      .where(sql<boolean>`webhook_events.payload->'data'->'transfer'->>'out_transfer_no' = ${no}`)
      .execute();
    expect(deliveries.map((delivery) => delivery.type).sort()).toEqual([
      'transfer.created',
      'transfer.wait_user_confirm',
    ]);
    expect(new Set(deliveries.map((delivery) => delivery.endpoint_id))).toEqual(
      new Set([endpoint.endpoint.id]),
    );
    await h.vkPay.disableWebhookEndpoint(MERCHANT, endpoint.endpoint.id);
  });

  it('payee identities and names are ciphertext in rows and absent from journal, audit, events and logs', async () => {
    const no = transferNo();
    const id = await payee('NORMAL', 'required');
    const name = `名${randomBytes(3).toString('hex')}`;
    await h.vkPay.transfer(request(no, id, 210, { payee: { identityType: 'OPENID', identity: id, name } }));
    const row = await h.vkPay.store.db
      .selectFrom('payment_transfers')
      .selectAll()
      .where('out_transfer_no', '=', no)
      .executeTakeFirstOrThrow();
    expect(row.payee_identity_sealed).toMatchObject({ $sealed: 'aes-256-gcm' });
    expect(row.payee_name_sealed).toMatchObject({ $sealed: 'aes-256-gcm' });
    for (const table of [
      'payment_transfers',
      'payment_logs',
      'payment_errors',
      'payment_notify_events',
      'console_audit',
      'webhook_events',
    ] as const) {
      const { rows } = await sql<{
        text: string;
      }>`select coalesce(string_agg(t::text, ' '), '') as text from ${sql.table(table)} t`.execute(
        h.vkPay.store.db,
      );
      expect(rows[0]!.text, table).not.toContain(id);
      expect(rows[0]!.text, table).not.toContain(name);
    }
    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(id);
    expect(logs).not.toContain(name);
  });
});

/** Reserves without sending: the limits and the lock are what is measured. */
async function importCreate(h: WxpayHarness, request: Parameters<WxpayHarness['vkPay']['transfer']>[0]) {
  const { createTransfer } = await import('../../src/service/transfers.ts');
  return createTransfer(h.vkPay.context, request);
}
