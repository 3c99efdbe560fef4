import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import { createFieldSealer } from '../../src/service/sealing.ts';
import { createTransfer, getTransfer, openPayee } from '../../src/service/transfers.ts';
import { backends } from '../support/backends.ts';

const request = (outTransferNo: string, identity = 'oPayeeOpenid0001') => ({
  merchantId: 'shop1',
  provider: 'wxpay',
  outTransferNo,
  amountFen: 100,
  payee: { identityType: 'OPENID' as const, identity, name: '张三' },
  remark: '奖励',
  requestedBy: 'alice',
});

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 0,
    (error: unknown) => (error instanceof PayError ? error.code : -1),
  );

describe.each(backends)('transfer bookkeeping on $name', (backend) => {
  it('refuses transfers without an encryption key: the payee is never stored in clear', async () => {
    const vkPay = await backend.open();
    try {
      expect(await codeOf(createTransfer(vkPay.context, request('NOKEY0001')))).toBe(40009);
      const rows = await vkPay.store.db.selectFrom('payment_transfers').selectAll().execute();
      expect(rows).toHaveLength(0);
    } finally {
      await vkPay.close();
    }
  });

  it('opens a payee sealed under an older key after the key rotates; a number with another payee is refused', async () => {
    const k1 = randomBytes(32);
    const vkPay = await backend.open({ sealing: { keys: { k1 }, activeKeyId: 'k1', fields: [] } });
    try {
      await createTransfer(vkPay.context, request('ROTATE001'));
      vkPay.context.sealer = createFieldSealer({
        keys: { k1, k2: randomBytes(32) },
        activeKeyId: 'k2',
        fields: [],
      });
      const row = await getTransfer(vkPay.context, 'shop1', 'ROTATE001');
      expect(row.payee_identity_sealed).toMatchObject({ kid: 'k1' });
      expect(openPayee(vkPay.context, row)).toEqual({
        identityType: 'OPENID',
        identity: 'oPayeeOpenid0001',
        name: '张三',
      });
      const again = await createTransfer(vkPay.context, request('ROTATE001'));
      expect(again.created).toBe(false);
      expect(await codeOf(createTransfer(vkPay.context, request('ROTATE001', 'oSomeoneElse0002')))).toBe(
        40001,
      );
      expect(await codeOf(createTransfer(vkPay.context, { ...request('BAD'), remark: '' }))).toBe(40001);
    } finally {
      await vkPay.close();
    }
  });
});
