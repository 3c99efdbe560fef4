import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSandbox,
  nativeOrder,
  registerMerchant,
  type SandboxUnderTest,
  signedCall,
  type TestMerchant,
} from './support/merchant-client.ts';

let sandbox: SandboxUnderTest;
let merchant: TestMerchant;
// Wall time: 09:30 in China on 2026-03-10. Requests are signed with it.
let wallMs = Date.parse('2026-03-10T01:30:00Z');
const stamp = {
  get timestamp() {
    return Math.floor(wallMs / 1000);
  },
};

beforeAll(async () => {
  sandbox = await buildSandbox({ clock: { now: () => wallMs } });
  merchant = await registerMerchant(sandbox.app);
});
afterAll(() => sandbox.app.close());

const moveClock = (payload: Record<string, unknown>) =>
  sandbox.app.inject({ method: 'POST', url: '/sandbox/clock', payload });
const bill = (date: string) =>
  signedCall(
    sandbox.app,
    merchant,
    'GET',
    `/v3/bill/tradebill?bill_date=${date}&bill_type=ALL`,
    undefined,
    stamp,
  );

describe('trade bills', () => {
  it('are made for past days only: a trade made on a past day through the clock is in that day’s bill', async () => {
    // Gateway time to noon on 2026-03-08 in China; the merchant still signs with the wall clock.
    const moved = await moveClock({ at: '2026-03-08T12:00:00+08:00' });
    expect(moved.json().now).toBe('2026-03-08T04:00:00.000Z');
    const order = nativeOrder(merchant, { amount: { total: 250, currency: 'CNY' } });
    expect(
      (await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order, stamp)).status,
    ).toBe(200);
    const paid = await sandbox.app.inject({
      method: 'POST',
      url: `/sandbox/trades/${merchant.mchid}/${order.out_trade_no}/pay`,
    });
    expect(paid.json().transaction.success_time).toMatch(/^2026-03-08T12:00/);
    await moveClock({ offsetMs: 0 });

    for (const date of ['2026-03-10', '2026-03-11']) {
      const refused = await bill(date);
      expect(refused.status).toBe(400);
      expect(refused.json()).toEqual({ code: 'NO_STATEMENT_EXIST', message: '请求的账单文件不存在' });
    }
    expect((await bill('2026-03-09')).json()).toEqual({ code: 'STATEMENT_CREATING', message: '账单生成中' });
    // A past day without a payment or a refund has no bill.
    expect((await bill('2026-03-07')).json().code).toBe('NO_STATEMENT_EXIST');

    const named = await bill('2026-03-08');
    expect(named.status).toBe(200);
    const url = new URL(named.json().download_url);
    const file = await signedCall(
      sandbox.app,
      merchant,
      'GET',
      `${url.pathname}${url.search}`,
      undefined,
      stamp,
    );
    expect(file.body).toContain(`\`${order.out_trade_no}`);
    expect(file.body).toContain('`2026-03-08 12:00');

    // From 10:00 yesterday's bill is made: that day had nothing, so there is none.
    wallMs += 3600_000;
    expect((await bill('2026-03-09')).json().code).toBe('NO_STATEMENT_EXIST');
  });
});
