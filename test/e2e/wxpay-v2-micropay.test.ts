/**
 * Payment codes on a WeChat Pay APIv2 account end to end: the merchant API on a real socket, the
 * APIv2 emulator over HTTPS (`/pay/micropay`, `/pay/orderquery`, and `/secapi/pay/reverse` over
 * mutual TLS with the account's client certificate). Paid at once, confirmed with the password and
 * found by the schedule's query, never confirmed and reversed, a short balance, the same request
 * twice, and the buyer's code in no row and no log line. The service's clock is moved by the test.
 */
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { createWxpayProvider } from '../../src/providers/wxpay/index.ts';
import { type RunningWxpayV2Sandbox, startWxpayV2Sandbox } from '../../src/sandbox/wxpay-v2/index.ts';
import { settleConfirmingPayments } from '../../src/service/micropay-job.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { signedApi } from '../support/signed-client.ts';
import { API_APP, MERCHANT, tradeNumbers } from './harness.ts';

const WINDOW_MS = 45_000;
const POLL_MS = 5_000;
const tradeNo = tradeNumbers('MV');

describe.each(backends)('payment codes on a WeChat Pay APIv2 account on $name', (backend) => {
  let emulator: RunningWxpayV2Sandbox;
  let vkPay: VkPay;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let api: ReturnType<typeof signedApi>;
  let agent: Agent;
  let mchid = '';
  let clock = Date.now();
  const logLines: string[] = [];
  const handled = new Map<string, number>();
  const codesSent: string[] = [];

  const control = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await undiciFetch(`${emulator.url}/sandbox${path}`, {
      method,
      dispatcher: agent,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    // biome-ignore lint/suspicious/noExplicitAny: the control API's answers are read freely
    return { status: response.status, json: (text ? JSON.parse(text) : null) as any };
  };

  beforeAll(async () => {
    emulator = await startWxpayV2Sandbox({ timeFactor: 0.001 });
    agent = new Agent({ connect: { ca: emulator.caPem } });
    const merchant = await emulator.gateway.addMerchant({ appid: 'wx2421b1c4370ec43d' });
    mchid = merchant.mchid;
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk, _encoding, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    );
    vkPay = await backend.open({
      now: () => new Date(clock),
      logger,
      micropay: { pollMs: POLL_MS, confirmWindowMs: WINDOW_MS, reverseRetryDelayMs: 5 },
      providers: [
        createWxpayProvider({
          merchants: [
            {
              merchantId: MERCHANT,
              apiVersion: 'v2',
              mchId: merchant.mchid,
              appId: merchant.appids[0]!,
              apiKey: merchant.apiKey,
              clientCertificate: merchant.clientCertificate,
              baseUrl: emulator.url,
              gatewayCaPems: [emulator.caPem],
              timeoutMs: 3_000,
              retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
            },
          ],
        }),
      ],
    });
    vkPay.onPaid('goods', ({ order }) => {
      handled.set(order.outTradeNo, (handled.get(order.outTradeNo) ?? 0) + 1);
    });
    app = await buildApp({ vkPay, apps: [API_APP] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    api = signedApi(vkPay.context.publicUrl, API_APP);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await vkPay?.close();
    await emulator?.close();
    await agent?.close();
  });

  const code = async (behaviour: 'pay' | 'password' | 'never' | 'insufficient') => {
    const issued = await control('POST', '/payment-codes', { behaviour });
    expect(issued.status).toBe(200);
    codesSent.push(issued.json.authCode);
    return issued.json.authCode as string;
  };
  const pay = (outTradeNo: string, authCode: string, totalFen = 1888) =>
    api('POST', '/api/payments', {
      provider: 'wxpay',
      scene: 'micropay',
      out_trade_no: outTradeNo,
      total_fee: totalFen,
      subject: '门店收银',
      type: 'goods',
      auth_code: authCode,
    });
  const orderOf = (outTradeNo: string) => vkPay.getOrder(MERCHANT, outTradeNo);
  const tradeState = async (outTradeNo: string) => {
    const trade = await control('GET', `/trades/${mchid}/${outTradeNo}`);
    return trade.status === 404 ? 'none' : (trade.json.state as string);
  };
  const creates = async (outTradeNo: string) =>
    (
      await vkPay.store.db
        .selectFrom('payment_logs')
        .select('id')
        .where('out_trade_no', '=', outTradeNo)
        .where('type', '=', 'create')
        .execute()
    ).length;
  const tick = async (times: number) => {
    const reports = [];
    for (let i = 0; i < times; i += 1) {
      clock += POLL_MS;
      reports.push(await settleConfirmingPayments(vkPay.context));
    }
    return reports;
  };

  it('a buyer who pays at once: paid in the answer, the handler ran once, the same request again charges nothing', async () => {
    const no = tradeNo();
    const authCode = await code('pay');
    const answer = await pay(no, authCode);
    expect(answer.status).toBe(200);
    expect(answer.json.data.micropay).toMatchObject({ state: 'paid' });
    expect(answer.json.data.order.status).toBe('SUCCESS');
    expect(await tradeState(no)).toBe('SUCCESS');
    const again = await pay(no, authCode);
    expect(again.json.data.micropay.state).toBe('paid');
    expect(await creates(no)).toBe(1);
    await tick(2);
    expect(handled.get(no)).toBe(1);
  });

  it('a buyer who needs the password: confirming, a repeat sends nothing, then paid by the schedule query', async () => {
    const no = tradeNo();
    const authCode = await code('password');
    const answer = await pay(no, authCode);
    expect(answer.json.data.micropay.state).toBe('confirming');
    expect((await orderOf(no)).status).toBe('USERPAYING');
    expect(await tradeState(no)).toBe('USERPAYING');
    const repeat = await pay(no, authCode);
    expect(repeat.json.data.micropay.state).toBe('confirming');
    expect(await creates(no)).toBe(1);
    await tick(1);
    expect((await orderOf(no)).status).toBe('USERPAYING');
    expect((await control('POST', `/trades/${mchid}/${no}/pay`)).status).toBe(200);
    await tick(1);
    expect((await orderOf(no)).status).toBe('SUCCESS');
    expect(handled.get(no)).toBe(1);
  });

  it('a buyer who never confirms: reversed over mutual TLS at the window end, the order closed, no handler', async () => {
    const no = tradeNo();
    const answer = await pay(no, await code('never'));
    expect(answer.json.data.micropay.state).toBe('confirming');
    await tick(Math.ceil(WINDOW_MS / POLL_MS) - 1);
    expect(await tradeState(no)).toBe('USERPAYING');
    const last = await tick(2);
    expect(last.reduce((sum, report) => sum + report.reversed, 0)).toBe(1);
    expect((await orderOf(no)).status).toBe('CLOSED');
    expect(await tradeState(no)).toBe('REVOKED');
    expect(handled.get(no)).toBeUndefined();
    const late = await pay(no, await code('pay'));
    expect(late.status).toBe(400);
  });

  it('a short balance is refused with words for the cashier; another code then pays the same order', async () => {
    const no = tradeNo();
    const refused = await pay(no, await code('insufficient'));
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ code: 40007 });
    expect(refused.json.msg).toBeTruthy();
    const paid = await pay(no, await code('pay'));
    expect(paid.json.data.micropay.state).toBe('paid');
    expect(handled.get(no)).toBe(1);
  });

  it("leaves the buyer's code in no row of any table and in no log line", async () => {
    expect(codesSent.length).toBeGreaterThan(4);
    const { rows: tables } = await sql<{ table_name: string }>`
      select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'
    `.execute(vkPay.store.db);
    let stored = '';
    for (const { table_name } of tables) {
      const { rows } = await sql<{
        row: string;
      }>`select row_to_json(t)::text as row from ${sql.table(table_name)} t`.execute(vkPay.store.db);
      stored += rows.map((row) => row.row).join('\n');
    }
    expect(stored).toContain('MV');
    const logs = logLines.join('');
    for (const authCode of codesSent) {
      expect(stored).not.toContain(authCode);
      expect(logs).not.toContain(authCode);
    }
  });
});
