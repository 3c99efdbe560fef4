import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransfer } from '../../src/service/transfers.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, consoleApp, PASSWORD } from './client.ts';

describe.each(backends)('console transfer approvals on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  let sequence = 0;
  const pending = async (merchantId: string, requestedBy: string) => {
    const outTransferNo = `CT${Date.now().toString(36)}${sequence++}`;
    const { transfer } = await createTransfer(vkPay.context, {
      merchantId,
      provider: 'wxpay',
      outTransferNo,
      amountFen: 80_000,
      payee: { identityType: 'OPENID', identity: 'oSecretOpenid123' },
      remark: '提现',
      requestedBy,
    });
    expect(transfer.status).toBe('PENDING_APPROVAL');
    return outTransferNo;
  };

  beforeAll(async () => {
    vkPay = await backend.open({
      sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] },
      transfers: { approvalThresholdFen: 50_000 },
    });
    app = await consoleApp(vkPay);
    await addUser(vkPay, 'olga', 'operator');
    await addUser(vkPay, 'vera', 'viewer');
    await addUser(vkPay, 'sam', 'operator', ['shopA']);
  }, 300_000);
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  async function signedIn(name: string): Promise<ConsoleClient> {
    const client = new ConsoleClient(app);
    expect((await client.signIn(name, PASSWORD)).statusCode).toBe(200);
    return client;
  }

  it('a second operator approves; the requester, a viewer and another merchant’s operator cannot', async () => {
    const no = await pending('shopB', 'olga');
    const olga = await signedIn('olga');
    const own = await olga.post(`/console/transfers/shopB/${no}/approve`, {});
    expect(own.statusCode).toBe(403);
    expect(own.json().code).toBe(40009);
    const vera = await signedIn('vera');
    expect((await vera.post(`/console/transfers/shopB/${no}/approve`, {})).statusCode).toBe(403);
    const sam = await signedIn('sam');
    expect((await sam.post(`/console/transfers/shopB/${no}/approve`, {})).statusCode).toBe(404);

    const other = await pending('shopA', 'olga');
    const approved = await sam.post(`/console/transfers/shopA/${other}/approve`, {
      note: 'checked the ticket',
    });
    expect(approved.statusCode).toBe(200);
    // No gateway here: approved, and left for the job to send.
    expect(approved.json().data.transfer).toMatchObject({
      status: 'APPROVED',
      decided_by: 'sam',
      requested_by: 'olga',
    });
    const rows = await vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('target', '=', `shopA/${other}`)
      .orderBy('id')
      .execute();
    expect(rows.map((row) => [row.action, row.actor_name])).toEqual([
      ['transfer.created', 'olga'],
      ['transfer.approved', 'sam'],
    ]);
    expect(rows[1]!.actor_id).not.toBeNull();
    expect(JSON.stringify(rows)).not.toContain('oSecretOpenid123');
  });

  it('an operator rejects, and the list shows transfers within the operator’s merchants only', async () => {
    const no = await pending('shopA', 'vera');
    const olga = await signedIn('olga');
    const rejected = await olga.post(`/console/transfers/shopA/${no}/reject`, {});
    expect(rejected.json().data.transfer.status).toBe('REJECTED');
    expect((await olga.post(`/console/transfers/shopA/${no}/approve`, {})).json().code).toBe(40001);
    const sam = await signedIn('sam');
    const listed = await sam.get('/console/transfers');
    expect(listed.statusCode).toBe(200);
    const merchants = new Set(listed.json().data.rows.map((row: { merchant_id: string }) => row.merchant_id));
    expect([...merchants]).toEqual(['shopA']);
    const page = await sam.send('GET', '/console/transfers', { html: true });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(no);
    expect(page.body).not.toContain('oSecretOpenid123');
  });
});
