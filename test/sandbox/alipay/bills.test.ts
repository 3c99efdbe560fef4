import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import { controlJson, registerTestApp, type TestApp } from './helpers.ts';

describe('trade bills', () => {
  let sandbox: RunningAlipaySandbox;
  let app: TestApp;
  // Wall time: 08:30 in Beijing on 2026-03-10.
  let wallMs = Date.parse('2026-03-10T00:30:00Z');

  beforeAll(async () => {
    sandbox = await startAlipaySandbox({ timeFactor: 0.001, clock: { now: () => wallMs } });
    app = await registerTestApp(sandbox);
  });
  afterAll(async () => sandbox.close());

  const bill = (date: string) =>
    app.call('alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: date });

  it('are made for past days only: a trade made on a past day through the clock is in that day’s bill', async () => {
    const moved = await controlJson<{ now: string }>(`${sandbox.controlUrl}/clock`, {
      at: '2026-03-08T12:00:00+08:00',
    });
    expect(moved.json.now).toBe('2026-03-08T04:00:00.000Z');
    await app.call('alipay.trade.precreate', {
      out_trade_no: 'BILL-1',
      total_amount: '12.00',
      subject: 'bill',
    });
    const trade = `${sandbox.controlUrl}/trades/${app.appId}/BILL-1`;
    await controlJson(`${trade}/scan`, {});
    await controlJson(`${trade}/pay`, {});
    const refund = await app.call('alipay.trade.refund', {
      out_trade_no: 'BILL-1',
      refund_amount: '2.00',
      out_request_no: 'BILL-1-R1',
    });
    expect(refund.inner.gmt_refund_pay).toMatch(/^2026-03-08 12:00/);
    await controlJson(`${sandbox.controlUrl}/clock`, { offsetMs: 0 });

    for (const date of ['2026-03-10', '2026-03-11', '2026-03-09']) {
      expect((await bill(date)).inner, date).toMatchObject({ code: '40004', sub_code: 'isp.bill_not_exist' });
    }
    const named = await bill('2026-03-08');
    expect(named.inner.code).toBe('10000');
    const zip = new Uint8Array(await (await fetch(named.inner.bill_download_url!)).arrayBuffer());
    const detail = Object.entries(unzipSync(zip)).find(([name]) => !name.includes('汇总'))!;
    const text = new TextDecoder('gbk').decode(detail[1]);
    expect(text).toContain('BILL-1\t');
    expect(text).toContain('BILL-1-R1\t');
    expect(text).toContain('2026-03-08 12:00');

    // From 09:00 yesterday's bill is there, empty or not.
    wallMs += 3600_000;
    expect((await bill('2026-03-09')).inner.code).toBe('10000');
  });
});
