/**
 * Windows that end at `now` count the rows written in now's own millisecond: the database stamps
 * rows to the microsecond while the service's clock reads whole milliseconds, so a row logged just
 * before a check can carry a stamp after `now` by a fraction of a millisecond.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorRate } from '../../src/service/monitoring.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';

describe.each(backends)('a window ending now on $name', (backend) => {
  let vkPay: VkPay;
  beforeAll(async () => {
    vkPay = await backend.open();
  });
  afterAll(async () => {
    await vkPay?.close();
  });

  it('counts a row stamped later in the same millisecond as now', async () => {
    // 900 microseconds into now's millisecond, as the database's now() stamps a row just written.
    await sql`
      insert into payment_logs (type, status, provider, error, create_date)
      values ('create', 'ERROR', 'wxpay', '{"code":50000}', timestamptz '2026-12-03 01:02:03.004900+00')
    `.execute(vkPay.store.db);
    const rate = await errorRate(vkPay.context, 60_000, new Date('2026-12-03T01:02:03.004Z'));
    expect(rate).toMatchObject({ events: 1, errors: 1 });
  });
});
