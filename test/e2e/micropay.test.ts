/**
 * Payment codes end to end, over the merchant API on a real socket against the gateway emulators:
 * paid at once, confirmed with the password and found by query, never confirmed and reversed, the
 * same request twice, forged and repeated notifications, and the buyer's code in no row and no
 * log line. One gateway per row of GATEWAYS: a gateway with payment codes joins by adding its row.
 * The service's clock is moved by the test, so the confirmation window passes without waiting.
 */
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderName } from '../../src/core/validate.ts';
import { settleConfirmingPayments } from '../../src/service/micropay-job.ts';
import { backends } from '../support/backends.ts';
import { signedApi } from '../support/signed-client.ts';
import {
  API_APP,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

type Behaviour = 'pays' | 'password' | 'never' | 'insufficient';

/** What a gateway with payment codes gives these tests; its emulator does the buyer's part. */
interface CodeGateway {
  name: string;
  provider: ProviderName;
  /** A fresh code of a sandbox buyer who behaves so. */
  code(h: WxpayHarness, behaviour: Behaviour): Promise<string>;
  /** The buyer enters the password. */
  confirm(h: WxpayHarness, outTradeNo: string): Promise<void>;
  /** The gateway's own word on the trade. */
  tradeState(h: WxpayHarness, outTradeNo: string): Promise<'paid' | 'confirming' | 'reversed' | 'none'>;
  /** Has the gateway deliver its genuine notification of the paid trade to the service, and waits for it. */
  notify(h: WxpayHarness, outTradeNo: string, notifyUrl: string): Promise<void>;
  /** Posts a notification of a paid trade that does not verify; answers the HTTP status. */
  forge(h: WxpayHarness, outTradeNo: string, notifyUrl: string): Promise<number>;
  /** The gateway acts on the order's next payment call, but its answer never arrives (every retry fails too). */
  loseAnswer(h: WxpayHarness, outTradeNo: string): Promise<void>;
  /** The gateway refuses every reversal of the order for a business reason (not a retry). */
  refuseReversal(h: WxpayHarness, outTradeNo: string): Promise<void>;
}

const WXPAY_STATES: Record<string, 'paid' | 'confirming' | 'reversed'> = {
  SUCCESS: 'paid',
  USERPAYING: 'confirming',
  REVOKED: 'reversed',
};

const wxpayV3: CodeGateway = {
  name: 'wxpay APIv3',
  provider: 'wxpay',
  async code(h, behaviour) {
    const issued = await h.control('POST', '/payment-codes', { behaviour });
    if (issued.status !== 200) throw new Error(JSON.stringify(issued.json));
    return issued.json.auth_code;
  },
  async confirm(h, outTradeNo) {
    const confirmed = await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/pay`);
    if (confirmed.status !== 200) throw new Error(JSON.stringify(confirmed.json));
  },
  async tradeState(h, outTradeNo) {
    const trade = await h.control('GET', `/trades/${h.mchId}/${outTradeNo}`);
    if (trade.status === 404) return 'none';
    return WXPAY_STATES[trade.json.transaction.trade_state] ?? trade.json.transaction.trade_state;
  },
  async notify(h, outTradeNo, notifyUrl) {
    const sent = await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/notify`, { url: notifyUrl });
    if (sent.status !== 200) throw new Error(JSON.stringify(sent.json));
    await eventually(
      async () => (await h.control('GET', `/notifications?out_trade_no=${outTradeNo}`)).json,
      (records: Array<{ state: string }>) =>
        records.length > 0 && records.every((r) => r.state !== 'pending'),
    );
  },
  async forge(_h, outTradeNo, notifyUrl) {
    const response = await fetch(notifyUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'wechatpay-timestamp': String(Math.floor(Date.now() / 1000)),
        'wechatpay-nonce': 'forged',
        'wechatpay-serial': 'PUB_KEY_ID_FORGED',
        'wechatpay-signature': Buffer.from('forged').toString('base64'),
      },
      body: JSON.stringify({ id: 'forged', event_type: 'TRANSACTION.SUCCESS', out_trade_no: outTradeNo }),
    });
    return response.status;
  },
  async loseAnswer(h, outTradeNo) {
    const fault = {
      kind: 'systemError',
      operation: 'codepay',
      outTradeNo,
      times: 'always',
      afterHandling: true,
    };
    if ((await h.control('POST', '/faults', fault)).status !== 200) throw new Error('fault refused');
  },
  async refuseReversal(h, outTradeNo) {
    const fault = { kind: 'notEnough', operation: 'reverse', outTradeNo, times: 'always' };
    if ((await h.control('POST', '/faults', fault)).status !== 200) throw new Error('fault refused');
  },
};

const ALIPAY_STATES: Record<string, 'paid' | 'confirming' | 'reversed'> = {
  TRADE_SUCCESS: 'paid',
  TRADE_FINISHED: 'paid',
  WAIT_BUYER_PAY: 'confirming',
  TRADE_CLOSED: 'reversed',
};

/**
 * Alipay notifies every payment by itself, at once: where a case needs the query (not the
 * notification) to find the payment, the notification is held back by a drop fault, which `notify`
 * lifts before it has the trade's notification sent again.
 */
const heldNotifications = new Map<string, string>();
const holdNotifications = async (h: WxpayHarness, outTradeNo: string) => {
  const fault = { channel: 'notify', kind: 'drop', outTradeNo, times: 'always' };
  const added = await h.alipay.control('POST', '/faults', fault);
  if (added.status !== 200) throw new Error(JSON.stringify(added.json));
  heldNotifications.set(outTradeNo, added.json.id);
};

const alipay: CodeGateway = {
  name: 'alipay trade.pay',
  provider: 'alipay',
  async code(h, behaviour) {
    const issued = await h.alipay.control('POST', '/payment-codes', {
      behaviour: behaviour === 'pays' ? 'pay' : behaviour,
    });
    if (issued.status !== 200) throw new Error(JSON.stringify(issued.json));
    return issued.json.authCode;
  },
  async confirm(h, outTradeNo) {
    await holdNotifications(h, outTradeNo);
    const confirmed = await h.alipay.control('POST', `/trades/${h.alipay.appId}/${outTradeNo}/pay`);
    if (confirmed.status !== 200) throw new Error(JSON.stringify(confirmed.json));
  },
  async tradeState(h, outTradeNo) {
    const trade = await h.alipay.control('GET', `/trades/${h.alipay.appId}/${outTradeNo}`);
    if (trade.status === 404) return 'none';
    if (trade.json.tradeStatus === 'TRADE_CLOSED' && trade.json.refundedFen > 0) return 'paid';
    return ALIPAY_STATES[trade.json.tradeStatus] ?? trade.json.tradeStatus;
  },
  async notify(h, outTradeNo) {
    const held = heldNotifications.get(outTradeNo);
    if (held) {
      await h.alipay.control('DELETE', `/faults/${held}`);
      heldNotifications.delete(outTradeNo);
    }
    const acknowledged = async () =>
      (
        (await h.alipay.control('GET', `/notifications?out_trade_no=${outTradeNo}`)).json as Array<{
          acknowledged: boolean;
        }>
      ).filter((record) => record.acknowledged).length;
    const before = await acknowledged();
    const sent = await h.alipay.control('POST', `/trades/${h.alipay.appId}/${outTradeNo}/notify`);
    if (sent.status !== 200) throw new Error(JSON.stringify(sent.json));
    await eventually(acknowledged, (count) => count > before);
  },
  async forge(h, outTradeNo, notifyUrl) {
    const response = await fetch(notifyUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams({
        notify_type: 'trade_status_sync',
        notify_id: 'forged',
        notify_time: '2026-12-03 09:00:00',
        app_id: h.alipay.appId,
        out_trade_no: outTradeNo,
        trade_no: '2026120322001400000000000001',
        trade_status: 'TRADE_SUCCESS',
        total_amount: '25.99',
        charset: 'utf-8',
        version: '1.0',
        sign_type: 'RSA2',
        sign: Buffer.from('forged').toString('base64'),
      }).toString(),
    });
    return response.status;
  },
  async loseAnswer(h, outTradeNo) {
    // The answer is lost, and so (for now) is the notification: the schedule's query finds the payment.
    await holdNotifications(h, outTradeNo);
    const fault = {
      kind: 'systemError',
      method: 'alipay.trade.pay',
      outTradeNo,
      times: 'always',
      afterHandling: true,
    };
    if ((await h.alipay.control('POST', '/faults', fault)).status !== 200) throw new Error('fault refused');
  },
  async refuseReversal(h, outTradeNo) {
    const fault = {
      kind: 'businessError',
      method: 'alipay.trade.cancel',
      subCode: 'ACQ.REASON_TRADE_BEEN_FREEZEN',
      subMsg: '交易已冻结',
      outTradeNo,
      times: 'always',
    };
    if ((await h.alipay.control('POST', '/faults', fault)).status !== 200) throw new Error('fault refused');
  },
};

/** Every gateway with payment codes. WeChat APIv2 (micropay) joins with a row of its own. */
const GATEWAYS: CodeGateway[] = [wxpayV3, alipay];

const WINDOW_MS = 45_000;
const POLL_MS = 5_000;
const tradeNo = tradeNumbers('MP');

describe.each(backends.flatMap((backend) => GATEWAYS.map((gateway) => ({ backend, gateway }))))(
  'payment codes through $gateway.name on $backend.name',
  ({ backend, gateway }) => {
    let h: WxpayHarness;
    let api: ReturnType<typeof signedApi>;
    let clock = Date.now();
    const logLines: string[] = [];
    const handled = new Map<string, number>();
    const codesSent: string[] = [];

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
        vkPay: {
          now: () => new Date(clock),
          logger,
          micropay: { pollMs: POLL_MS, confirmWindowMs: WINDOW_MS, reverseRetryDelayMs: 5 },
        },
      });
      h.vkPay.onPaid('goods', ({ order }) => {
        handled.set(order.outTradeNo, (handled.get(order.outTradeNo) ?? 0) + 1);
      });
      api = signedApi(h.vkPay.context.publicUrl, API_APP);
    });
    afterAll(async () => {
      await h?.close();
    });

    const code = async (behaviour: Behaviour) => {
      const issued = await gateway.code(h, behaviour);
      codesSent.push(issued);
      return issued;
    };
    const pay = (outTradeNo: string, authCode: string, totalFen = 2599) =>
      api('POST', '/api/payments', {
        provider: gateway.provider,
        scene: 'micropay',
        out_trade_no: outTradeNo,
        total_fee: totalFen,
        subject: '门店收银',
        type: 'goods',
        auth_code: authCode,
      });
    const orderOf = (outTradeNo: string) => h.vkPay.getOrder(MERCHANT, outTradeNo);
    /** Ticks of the payment-code schedule, the service's clock moving `stepMs` before each. */
    const tick = async (times: number, stepMs = POLL_MS) => {
      const reports = [];
      for (let i = 0; i < times; i += 1) {
        clock += stepMs;
        reports.push(await settleConfirmingPayments(h.vkPay.context));
      }
      return reports;
    };
    const notifyUrl = () => `${h.vkPay.context.publicUrl}/notify/${gateway.provider}/${MERCHANT}`;

    it('a buyer who pays at once: the answer says paid, and the handler ran once', async () => {
      const no = tradeNo();
      const answer = await pay(no, await code('pays'));
      expect(answer.status).toBe(200);
      expect(answer.json.data.micropay).toMatchObject({ state: 'paid', confirmBy: null });
      expect(answer.json.data.order.status).toBe('SUCCESS');
      expect(answer.json.data.payment).toEqual({ scene: 'micropay' });
      expect(handled.get(no)).toBe(1);
      expect(await gateway.tradeState(h, no)).toBe('paid');
      await tick(2);
      expect(handled.get(no)).toBe(1);
    });

    it('the same request again returns the paid order without charging twice', async () => {
      const no = tradeNo();
      const authCode = await code('pays');
      await pay(no, authCode);
      const again = await pay(no, authCode);
      expect(again.status).toBe(200);
      expect(again.json.data.micropay.state).toBe('paid');
      expect(again.json.data.order.status).toBe('SUCCESS');
      expect(handled.get(no)).toBe(1);
      // The code is spent at the gateway: had it been sent again, the gateway would have refused it.
      const other = await pay(tradeNo(), authCode);
      expect(other.status).toBe(400);
      expect(other.json).toMatchObject({ code: 40001, field: 'auth_code' });
    });

    it('a buyer who needs the password: confirming, a repeat does not send the code again, then paid on query', async () => {
      const no = tradeNo();
      const authCode = await code('password');
      const answer = await pay(no, authCode);
      expect(answer.status).toBe(200);
      expect(answer.json.data.micropay.state).toBe('confirming');
      expect(answer.json.data.micropay.message.en).toContain('confirming');
      expect(answer.json.data.order.status).toBe('USERPAYING');
      const confirmBy = Date.parse(answer.json.data.micropay.confirmBy);
      expect(confirmBy - clock).toBe(WINDOW_MS);
      const creates = async () =>
        (
          await h.vkPay.store.db
            .selectFrom('payment_logs')
            .select('id')
            .where('out_trade_no', '=', no)
            .where('type', '=', 'create')
            .execute()
        ).length;
      expect(await creates()).toBe(1);
      const again = await pay(no, authCode);
      expect(again.json.data.micropay.state).toBe('confirming');
      expect(await creates()).toBe(1);
      // Still confirming at the first check; the buyer confirms; the next check finds it paid.
      const [first] = await tick(1);
      expect(first?.checked).toBeGreaterThanOrEqual(1);
      expect((await orderOf(no)).status).toBe('USERPAYING');
      expect(handled.get(no)).toBeUndefined();
      await gateway.confirm(h, no);
      const [second] = await tick(1);
      expect(second?.paid).toBe(1);
      expect((await orderOf(no)).status).toBe('SUCCESS');
      expect(handled.get(no)).toBe(1);
      // Past the window nothing is reversed: it is paid.
      await tick(12);
      expect(await gateway.tradeState(h, no)).toBe('paid');
      expect(handled.get(no)).toBe(1);
    });

    it('a buyer who never confirms: reversed at the window end, the order closed, the handler never ran', async () => {
      const no = tradeNo();
      const answer = await pay(no, await code('never'));
      expect(answer.json.data.micropay.state).toBe('confirming');
      await tick(Math.ceil(WINDOW_MS / POLL_MS) - 1);
      expect(await gateway.tradeState(h, no)).toBe('confirming');
      expect((await orderOf(no)).status).toBe('USERPAYING');
      const last = await tick(2);
      expect(last.reduce((sum, report) => sum + report.reversed, 0)).toBeGreaterThanOrEqual(1);
      const order = await orderOf(no);
      expect(order.status).toBe('CLOSED');
      expect(await gateway.tradeState(h, no)).toBe('reversed');
      expect(handled.get(no)).toBeUndefined();
      const events = await h.vkPay.store.db
        .selectFrom('webhook_events')
        .select('type')
        .where('merchant_id', '=', MERCHANT)
        .where('out_trade_no', '=', no)
        .execute();
      expect(events.map((event) => event.type)).toEqual(['payment.closed']);
      // The same request after the reversal is refused: a closed order takes no code.
      const late = await pay(no, await code('pays'));
      expect(late.status).toBe(400);
      expect(late.json.code).toBe(40001);
    });

    it('two identical requests at once send the code once and charge once', async () => {
      const no = tradeNo();
      const authCode = await code('pays');
      const answers = await Promise.all([pay(no, authCode), pay(no, authCode)]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
      expect(answers.map((answer) => answer.json.data.micropay.state)).toContain('paid');
      const creates = await h.vkPay.store.db
        .selectFrom('payment_logs')
        .select('id')
        .where('out_trade_no', '=', no)
        .where('type', '=', 'create')
        .execute();
      expect(creates).toHaveLength(1);
      expect((await orderOf(no)).status).toBe('SUCCESS');
      expect(handled.get(no)).toBe(1);
    });

    it('the merchant closing a confirming order reverses it at the gateway', async () => {
      const no = tradeNo();
      await pay(no, await code('never'));
      const closed = await api('POST', `/api/payments/${no}/close`);
      expect(closed.status).toBe(200);
      expect((await orderOf(no)).status).toBe('CLOSED');
      expect(await gateway.tradeState(h, no)).toBe('reversed');
      expect(handled.get(no)).toBeUndefined();
    });

    it('refuses a code without the scene, the scene without a code, and never echoes the code', async () => {
      const authCode = await code('pays');
      const native = await api('POST', '/api/payments', {
        provider: gateway.provider,
        scene: 'native',
        out_trade_no: tradeNo(),
        total_fee: 100,
        subject: 'counter',
        type: 'goods',
        auth_code: authCode,
      });
      expect(native.status).toBe(400);
      expect(native.json.code).toBe(40001);
      expect(JSON.stringify(native.json)).toContain('auth_code');
      expect(JSON.stringify(native.json)).not.toContain(authCode);
      const bare = await api('POST', '/api/payments', {
        provider: gateway.provider,
        scene: 'micropay',
        out_trade_no: tradeNo(),
        total_fee: 100,
        subject: 'counter',
        type: 'goods',
      });
      expect(bare.status).toBe(400);
      expect(JSON.stringify(bare.json.details)).toContain('auth_code');
    });

    it('a short balance is refused with words for the cashier, and another code may follow', async () => {
      const no = tradeNo();
      const short = await pay(no, await code('insufficient'));
      expect(short.status).toBe(409);
      expect(short.json).toMatchObject({ code: 40007, field: 'auth_code' });
      expect(short.json.action).toMatch(/更换付款方式/);
      expect((await orderOf(no)).status).toBe('NOTPAY');
      const paid = await pay(no, await code('pays'));
      expect(paid.json.data.micropay.state).toBe('paid');
      expect(handled.get(no)).toBe(1);
    });

    it('a forged notification is refused and a genuine one twice changes nothing: the handler ran once', async () => {
      const no = tradeNo();
      await pay(no, await code('password'));
      expect(await gateway.forge(h, no, notifyUrl())).toBeGreaterThanOrEqual(400);
      expect((await orderOf(no)).status).toBe('USERPAYING');
      await gateway.confirm(h, no);
      await gateway.notify(h, no, notifyUrl());
      expect(
        (
          await eventually(
            () => orderOf(no),
            (order) => order.status === 'SUCCESS',
          )
        ).status,
      ).toBe('SUCCESS');
      await gateway.notify(h, no, notifyUrl());
      await tick(12);
      expect(handled.get(no)).toBe(1);
      expect(await gateway.tradeState(h, no)).toBe('paid');
    });

    it('an answer lost after the gateway took the payment: confirming, then paid at the first check, never reversed', async () => {
      const no = tradeNo();
      await gateway.loseAnswer(h, no);
      const answer = await pay(no, await code('pays'));
      expect(answer.status).toBe(200);
      expect(answer.json.data.micropay.state).toBe('confirming');
      expect(handled.get(no)).toBeUndefined();
      await tick(1);
      expect((await orderOf(no)).status).toBe('SUCCESS');
      expect(handled.get(no)).toBe(1);
      await tick(12);
      expect(await gateway.tradeState(h, no)).toBe('paid');
      expect(handled.get(no)).toBe(1);
    });

    it('a reversal the gateway refuses becomes one review; the order is not closed', async () => {
      const no = tradeNo();
      await gateway.refuseReversal(h, no);
      await pay(no, await code('never'));
      await tick(Math.ceil(WINDOW_MS / POLL_MS) + 3);
      expect((await orderOf(no)).status).toBe('USERPAYING');
      const reviews = await h.vkPay.store.db
        .selectFrom('payment_reviews')
        .select(['kind', 'status'])
        .where('merchant_id', '=', MERCHANT)
        .where('reference', '=', no)
        .execute();
      expect(reviews).toEqual([{ kind: 'reverse_failed', status: 'OPEN' }]);
      expect(await gateway.tradeState(h, no)).toBe('confirming');
      expect(handled.get(no)).toBeUndefined();
    });

    it("leaves the buyer's code in no row of any table and in no log line", async () => {
      expect(codesSent.length).toBeGreaterThan(5);
      const { rows: tables } = await sql<{ table_name: string }>`
      select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'
    `.execute(h.vkPay.store.db);
      expect(tables.map((table) => table.table_name)).toContain('payment_logs');
      let stored = '';
      for (const { table_name } of tables) {
        const { rows } = await sql<{
          row: string;
        }>`select row_to_json(t)::text as row from ${sql.table(table_name)} t`.execute(h.vkPay.store.db);
        stored += rows.map((row) => row.row).join('\n');
      }
      expect(stored).toContain('MP');
      const logs = logLines.join('');
      for (const authCode of codesSent) {
        expect(stored).not.toContain(authCode);
        expect(logs).not.toContain(authCode);
      }
    });
  },
);
