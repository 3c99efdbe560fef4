import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTransferResult, claimForSending, createTransfer } from '../../src/service/transfers.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, consoleApp, PASSWORD } from './client.ts';

describe.each(backends)('console transfer approvals on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  let sequence = 0;
  const pending = async (
    merchantId: string,
    requestedBy: string,
    provider: 'wxpay' | 'alipay' = 'wxpay',
    amountFen = 80_000,
  ) => {
    const outTransferNo = `CT${Date.now().toString(36)}${sequence++}`;
    const { transfer } = await createTransfer(vkPay.context, {
      merchantId,
      provider,
      outTransferNo,
      amountFen,
      payee:
        provider === 'wxpay'
          ? { identityType: 'OPENID', identity: 'oSecretOpenid123', name: '张秘密' }
          : { identityType: 'ALIPAY_USER_ID', identity: '2088000000000001', name: '张秘密' },
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
    await addUser(vkPay, 'pia', 'operator', ['shopP']);
    await addUser(vkPay, 'quinn', 'operator', ['shopP']);
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
  /** A form the page would send, with the page's CSRF token. */
  const submit = (client: ConsoleClient, url: string, note = '') =>
    client.send('POST', url, { form: { _csrf: client.csrf, note }, html: true });

  it('lists with a waiting view, filters, yuan amounts, keyset pages and no payee identity', async () => {
    const wx = await pending('shopP', 'pia', 'wxpay', 123_456);
    const ali = await pending('shopP', 'pia', 'alipay', 60_001);
    const third = await pending('shopP', 'pia', 'wxpay', 70_000);
    const quinn = await signedIn('quinn');
    await submit(quinn, `/console/transfers/shopP/${third}/reject`, 'not ours');
    const pia = await signedIn('pia');

    const waiting = await pia.send('GET', '/console/transfers?status=PENDING_APPROVAL', { html: true });
    expect(waiting.statusCode).toBe(200);
    expect(waiting.body).toContain('<h1>待审批的转账</h1>');
    expect(waiting.body).toContain(wx);
    expect(waiting.body).toContain(ali);
    expect(waiting.body).not.toContain(third);
    expect(waiting.body).toContain('1234.56');
    expect(waiting.body).toContain('600.01');
    expect(waiting.body).toContain('ALIPAY_USER_ID');
    expect(waiting.body).not.toContain('oSecretOpenid123');
    expect(waiting.body).not.toContain('2088000000000001');
    expect(waiting.body).not.toContain('张秘密');
    // The count of the waiting view, and the merchant choice limited to the operator's scope.
    expect(waiting.body).toMatch(/data-testid="view-waiting">[^<]*\(2\)/);
    expect(waiting.body).toContain('<option value="shopP">shopP</option>');
    expect(waiting.body).not.toContain('<option value="shopA">');

    const alipay = await pia.get('/console/transfers?provider=alipay');
    expect(alipay.json().data.rows.map((row: { out_transfer_no: string }) => row.out_transfer_no)).toEqual([
      ali,
    ]);
    // A merchant outside the scope filters to nothing.
    expect((await pia.get('/console/transfers?merchant=shopB')).json().data.rows).toEqual([]);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await pia.get(`/console/transfers?from=${tomorrow}`)).json().data.rows).toEqual([]);
    const bad = await pia.send('GET', '/console/transfers?after=forged', { html: true });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('data-testid="error"');

    // Keyset pages of 2: newest first, the next page and back.
    const first = (await pia.get('/console/transfers?limit=2')).json().data;
    expect(first.rows.map((row: { out_transfer_no: string }) => row.out_transfer_no)).toEqual([third, ali]);
    expect(first.previous).toBeNull();
    const second = (await pia.get(`/console/transfers?limit=2&after=${first.next}`)).json().data;
    expect(second.rows.map((row: { out_transfer_no: string }) => row.out_transfer_no)).toEqual([wx]);
    expect(second.next).toBeNull();
    const back = (await pia.get(`/console/transfers?limit=2&before=${second.previous}`)).json().data;
    expect(back.rows.map((row: { out_transfer_no: string }) => row.out_transfer_no)).toEqual([third, ali]);
    const html = await pia.send('GET', '/console/transfers?limit=2', { html: true });
    expect(html.body).toContain('rel="next"');
  });

  it('approves and rejects through the page’s forms, redirecting back; the timeline shows who and when', async () => {
    const one = await pending('shopP', 'pia');
    const two = await pending('shopP', 'pia');
    const quinn = await signedIn('quinn');
    const page = await quinn.send('GET', `/console/transfers/shopP/${one}`, { html: true });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('data-testid="approve"');
    expect(page.body).toContain('data-testid="reject"');
    expect(page.body).toContain('¥800.00');
    expect(page.body).not.toContain('oSecretOpenid123');

    const approved = await submit(quinn, `/console/transfers/shopP/${one}/approve`, '  checked  ');
    expect(approved.statusCode).toBe(303);
    expect(approved.headers.location).toBe(`/console/transfers/shopP/${one}?done=approved`);
    // Sent twice (a double click): the same decision stands, once.
    const again = await submit(quinn, `/console/transfers/shopP/${one}/approve`, 'checked');
    expect(again.statusCode).toBe(303);
    const audits = await vkPay.store.db
      .selectFrom('console_audit')
      .select('action')
      .where('target', '=', `shopP/${one}`)
      .where('action', '=', 'transfer.approved')
      .execute();
    expect(audits).toHaveLength(1);

    const after = await quinn.send('GET', `/console/transfers/shopP/${one}?done=approved`, { html: true });
    expect(after.body).toContain('data-testid="notice"');
    expect(after.body).not.toContain('data-testid="approve"');
    expect(after.body).toMatch(/data-testid="decision">[^<]*quinn/);
    expect(after.body).toContain('data-kind="created"');
    expect(after.body).toContain('data-kind="decided"');
    expect(after.body).toContain('checked');
    const json = (await quinn.get(`/console/transfers/shopP/${one}`)).json().data;
    expect(json.transfer).toMatchObject({
      status: 'APPROVED',
      decided_by: 'quinn',
      decision_note: 'checked',
    });
    const kinds = json.entries.map((entry: { kind: string }) => entry.kind);
    expect(kinds[0]).toBe('created');
    expect(json.entries.find((entry: { kind: string }) => entry.kind === 'decided')).toMatchObject({
      approved: true,
      by: 'quinn',
      note: 'checked',
    });
    expect(
      json.entries
        .filter((entry: { kind: string }) => entry.kind === 'webhook_event')
        .map((entry: { type: string }) => entry.type),
    ).toContain('transfer.approved');

    const rejected = await submit(quinn, `/console/transfers/shopP/${two}/reject`);
    expect(rejected.statusCode).toBe(303);
    expect(rejected.headers.location).toBe(`/console/transfers/shopP/${two}?done=rejected`);
    const shown = await quinn.send('GET', `/console/transfers/shopP/${two}?lang=en`, { html: true });
    expect(shown.body).toContain('Rejected by quinn');
    expect(shown.body).toContain('<code>REJECTED</code>');
  });

  it('shows the requester why not, a decision made in another tab, and a viewer only the facts', async () => {
    const no = await pending('shopP', 'pia');
    const pia = await signedIn('pia');
    const own = await pia.send('GET', `/console/transfers/shopP/${no}?lang=en`, { html: true });
    expect(own.body).toContain('data-testid="own-transfer"');
    expect(own.body).not.toContain('data-testid="approve"');
    const refused = await submit(pia, `/console/transfers/shopP/${no}/approve?lang=en`);
    expect(refused.statusCode).toBe(403);
    expect(String(refused.headers['content-type'])).toContain('text/html');
    expect(refused.body).toContain('class="error"');
    expect(refused.body).toContain('another operator must approve or reject it');

    // Two operators with the page open: the first decides, the second is told.
    const quinn = await signedIn('quinn');
    await quinn.send('GET', `/console/transfers/shopP/${no}`, { html: true });
    const olga = await signedIn('olga');
    await olga.send('GET', `/console/transfers/shopP/${no}`, { html: true });
    expect((await submit(quinn, `/console/transfers/shopP/${no}/reject`)).statusCode).toBe(303);
    const late = await submit(olga, `/console/transfers/shopP/${no}/approve?lang=en`, 'looks fine');
    expect(late.statusCode).toBe(409);
    expect(late.body).toContain('already decided by quinn (REJECTED)');
    expect(late.body).not.toContain('data-testid="approve"');
    expect(
      (
        await vkPay.store.db
          .selectFrom('payment_transfers')
          .select('status')
          .where('out_transfer_no', '=', no)
          .executeTakeFirstOrThrow()
      ).status,
    ).toBe('REJECTED');

    const waitingNo = await pending('shopB', 'olga');
    const vera = await signedIn('vera');
    const view = await vera.send('GET', `/console/transfers/shopB/${waitingNo}?lang=en`, { html: true });
    expect(view.statusCode).toBe(200);
    expect(view.body).toContain('data-testid="viewer-only"');
    expect(view.body).not.toContain('data-testid="approve"');
    const viewerPost = await submit(vera, `/console/transfers/shopB/${waitingNo}/approve`);
    expect(viewerPost.statusCode).toBe(403);
    expect(String(viewerPost.headers['content-type'])).toContain('text/html');
    // Another merchant's transfer is not found, on the page as through a form.
    expect((await pia.send('GET', `/console/transfers/shopB/${waitingNo}`, { html: true })).statusCode).toBe(
      404,
    );
    expect((await submit(pia, `/console/transfers/shopB/${waitingNo}/approve`)).statusCode).toBe(404);
  });
  it('shows a failed transfer’s gateway answers and reason on its timeline', async () => {
    const no = await pending('shopP', 'pia');
    const quinn = await signedIn('quinn');
    expect((await submit(quinn, `/console/transfers/shopP/${no}/approve`)).statusCode).toBe(303);
    expect(await claimForSending(vkPay.context, 'shopP', no)).not.toBeNull();
    await applyTransferResult(vkPay.context, {
      merchantId: 'shopP',
      provider: 'wxpay',
      outTransferNo: no,
      status: 'FAILED',
      transferId: 'TB123',
      failReason: 'ACCOUNT_FROZEN',
      eventId: `EV-${no}`,
      source: 'notify',
    });
    const page = await quinn.send('GET', `/console/transfers/shopP/${no}?lang=en`, { html: true });
    expect(page.body).toContain('<code>FAILED</code>');
    expect(page.body).toContain('data-testid="transfer-fail-reason">ACCOUNT_FROZEN');
    expect(page.body).toContain('data-kind="callback"');
    expect(page.body).toMatch(/data-kind="settled">[^\n]*Failed[^\n]*ACCOUNT_FROZEN/);
    expect(page.body).toContain('transfer.failed');
    expect(page.body).toContain('Approved by quinn');
    expect(page.body).not.toContain('data-testid="approve"');
    expect(page.body).not.toContain('oSecretOpenid123');
  });
});
