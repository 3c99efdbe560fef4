import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDouyinSandbox, startDouyinSandbox } from '../../../src/sandbox/douyin/index.ts';

/** The legacy sign, written out here apart from both implementations. */
function sign(params: Record<string, string | number>, salt: string): string {
  const values = Object.entries(params)
    .filter(([key]) => !['app_id', 'thirdparty_id', 'sign', 'other_settle_params'].includes(key))
    .map(([, value]) => String(value).trim())
    .filter((value) => value !== '');
  return createHash('md5')
    .update([...values, salt].sort().join('&'))
    .digest('hex');
}

describe('Douyin emulator: legacy guaranteed payment', () => {
  let emulator: RunningDouyinSandbox;
  let app: { appId: string; salt: string; token: string };
  const call = async (path: string, params: Record<string, string | number>, salt = app.salt) => {
    const response = await fetch(`${emulator.url}/api/apps/ecpay/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ app_id: app.appId, ...params, sign: sign(params, salt) }),
    });
    return (await response.json()) as Record<string, any>;
  };
  const order = (outOrderNo: string, overrides: Record<string, string | number> = {}) => ({
    out_order_no: outOrderNo,
    total_amount: 990,
    subject: 'vip',
    body: 'vip month',
    valid_time: 900,
    notify_url: 'https://merchant.example/notify',
    ...overrides,
  });

  beforeAll(async () => {
    emulator = await startDouyinSandbox({ timeFactor: 0.001 });
    const response = await fetch(`${emulator.controlUrl}/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api: 'ecpay' }),
    });
    app = (await response.json()) as typeof app;
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it('creates an order only under the app salt, with a valid time and an HTTPS notify URL', async () => {
    expect((await call('create_order', order('ECP00001'), 'wrong-salt')).err_no).toBe(11004);
    expect((await call('create_order', order('ECP00001', { valid_time: 60 }))).err_no).toBe(11001);
    expect(
      (await call('create_order', order('ECP00001', { notify_url: 'http://merchant.example/n' }))).err_no,
    ).toBe(11001);
    const created = await call('create_order', order('ECP00001'));
    expect(created).toMatchObject({
      err_no: 0,
      data: { order_id: expect.any(String), order_token: expect.any(String) },
    });
    // The same number with another amount is another order: refused.
    expect((await call('create_order', order('ECP00001', { total_amount: 1 }))).err_no).toBe(2100005);
    expect(await call('query_order', { out_order_no: 'ECP00001' })).toMatchObject({
      err_no: 0,
      payment_info: { total_fee: 990, order_status: 'PROCESSING' },
    });
  });

  it('refunds only a paid order and never beyond what was paid; callbacks carry a msg_signature over the token', async () => {
    await call('create_order', order('ECP00002'));
    expect(
      (
        await call('create_refund', {
          out_order_no: 'ECP00002',
          out_refund_no: 'ECR1',
          reason: 'r',
          refund_amount: 10,
          notify_url: 'https://merchant.example/n',
        })
      ).err_no,
    ).not.toBe(0);
    emulator.gateway.pay(app.appId, 'ECP00002');
    const refund = (amount: number, no: string) =>
      call('create_refund', {
        out_order_no: 'ECP00002',
        out_refund_no: no,
        reason: 'r',
        refund_amount: amount,
        notify_url: 'https://merchant.example/n',
      });
    expect((await refund(990, 'ECR2')).err_no).toBe(0);
    expect((await refund(1, 'ECR3')).err_no).toBe(20002);
    const [record] = emulator.gateway.notifier.records.filter((r) => r.body.includes('ECP00002'));
    const body = JSON.parse(record!.body) as {
      timestamp: string;
      nonce: string;
      msg: string;
      msg_signature: string;
    };
    const expected = createHash('sha1')
      .update([app.token, body.timestamp, body.nonce, body.msg].sort().join(''))
      .digest('hex');
    expect(body.msg_signature).toBe(expected);
  });
});
