import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldSealer } from '../../src/service/sealing.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { orderRequest, paidResult } from '../support/orders.ts';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);

describe.each(backends)('sensitive data on $name', (backend) => {
  let vkPay: VkPay;
  const seen: unknown[] = [];
  beforeAll(async () => {
    vkPay = await backend.open({
      sealing: { keys: { k1: oldKey, k2: newKey }, activeKeyId: 'k2', fields: ['user_info'] },
    });
    vkPay.onPaid('goods', ({ custom }) => {
      seen.push(custom);
    });
  });
  afterAll(async () => {
    await vkPay.close();
  });

  it('stores user_info encrypted and card data not at all; the handler sees user_info', async () => {
    const userInfo = { name: '张三', phone: '13800000000' };
    const { order } = await vkPay.createOrder(
      orderRequest({
        type: 'goods',
        custom: { user_info: userInfo, card_number: '4111111111111111', cvv: '123', sku: 'A1' },
      }),
    );
    const row = await vkPay.store.db
      .selectFrom('payment_orders')
      .select('custom')
      .where('id', '=', order.id)
      .executeTakeFirstOrThrow();
    const stored = JSON.stringify(row.custom);
    expect(stored).not.toContain('13800000000');
    expect(stored).not.toContain('4111111111111111');
    expect(stored).not.toContain('"123"');
    expect(row.custom).toMatchObject({ sku: 'A1', user_info: { $sealed: 'aes-256-gcm', kid: 'k2' } });

    await vkPay.applyPaymentResult(paidResult(order));
    expect(seen.at(-1)).toMatchObject({ user_info: userInfo, sku: 'A1' });
  });

  it('opens values sealed with an older key after rotation, and refuses tampered ones', () => {
    const before = createFieldSealer({ keys: { k1: oldKey }, activeKeyId: 'k1', fields: ['user_info'] });
    const after = createFieldSealer({
      keys: { k1: oldKey, k2: newKey },
      activeKeyId: 'k2',
      fields: ['user_info'],
    });
    const sealed = before.seal({ user_info: { id: 7 } });
    expect(after.unseal(sealed)).toEqual({ user_info: { id: 7 } });
    const tampered = {
      user_info: { ...(sealed.user_info as object), data: Buffer.from('{"id":8}').toString('base64') },
    };
    expect(() => after.unseal(tampered)).toThrow();
    const withoutKey = createFieldSealer({ keys: { k2: newKey }, activeKeyId: 'k2', fields: ['user_info'] });
    expect(() => withoutKey.unseal(sealed)).toThrow(/k1/);
  });
});
