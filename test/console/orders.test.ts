/**
 * The console's order pages over `inject`, against the WeChat Pay emulator: search and its keyset
 * pages, the CSV export, one order, and the operator's refund, close and query-now, each refused to
 * viewers, outside the operator's merchants and without the CSRF token, each with its audit row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  MERCHANT,
  paidOrder,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, ORIGIN, PASSWORD } from './client.ts';

const tradeNo = tradeNumbers('CO');

describe.each(backends)('console orders on $name', (backend) => {
  let h: WxpayHarness;
  const paid: string[] = [];
  let unpaid: string;
  let other: string;
  let formula: string;

  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    for (const fen of [1000, 2500, 4000]) paid.push(await paidOrder(h, tradeNo(), fen, { subject: 'paid' }));
    unpaid = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: unpaid,
      total_fee: 700,
      subject: 'unpaid',
      type: 'goods',
      user_id: 'u-unpaid',
    });
    // Another merchant's order, and a subject a spreadsheet would run as a formula.
    other = tradeNo();
    await h.vkPay.createOrder({
      merchantId: 'shop9',
      out_trade_no: other,
      total_fee: 900,
      subject: 'other shop',
      type: 'goods',
      provider: 'wxpay',
      scene: 'native',
    });
    formula = tradeNo();
    await h.vkPay.createOrder({
      merchantId: MERCHANT,
      out_trade_no: formula,
      total_fee: 1200,
      subject: '=HYPERLINK("http://evil.example")',
      type: 'goods',
      provider: 'wxpay',
      scene: 'native',
    });
    await addUser(h.vkPay, 'opal', 'operator');
    await addUser(h.vkPay, 'vic', 'viewer');
    await addUser(h.vkPay, 'scoped', 'operator', [MERCHANT]);
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  async function signedIn(name: string): Promise<ConsoleClient> {
    const client = new ConsoleClient(
      h.app,
      `10.30.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    );
    expect((await client.signIn(name, PASSWORD)).statusCode).toBe(200);
    return client;
  }

  const auditRows = (action: string, target: string) =>
    h.vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('action', '=', action)
      .where('target', '=', target)
      .orderBy('id')
      .execute();

  const orderUrl = (no: string, merchant = MERCHANT) => `/console/orders/${merchant}/${no}`;

  it('searches by number, status, provider, amount in yuan and dates, in the operator scope', async () => {
    const client = await signedIn('scoped');
    const byNo = await client.get(`/console/orders?out_trade_no=${paid[1]}`);
    expect(byNo.statusCode).toBe(200);
    expect(byNo.json().data.rows.map((row: { outTradeNo: string }) => row.outTradeNo)).toEqual([paid[1]]);

    const order = await h.vkPay.getOrder(MERCHANT, paid[0]!);
    const byTransaction = await client.get(`/console/orders?transaction_id=${order.transactionId}`);
    expect(byTransaction.json().data.rows).toHaveLength(1);
    const byUser = await client.get('/console/orders?user_id=u-unpaid');
    expect(byUser.json().data.rows.map((row: { outTradeNo: string }) => row.outTradeNo)).toEqual([unpaid]);

    // 20.00 to 40.00 yuan: the 2500 and 4000 fen orders, paid; none of the unpaid ones.
    const byAmount = await client.get('/console/orders?min=20&max=40.00&status=SUCCESS&provider=wxpay');
    expect(
      byAmount
        .json()
        .data.rows.map((row: { totalFen: number }) => row.totalFen)
        .sort(),
    ).toEqual([2500, 4000]);
    const today = new Date().toISOString().slice(0, 10);
    const byDay = await client.get(`/console/orders?from=${today}&to=${today}`);
    expect(byDay.json().data.rows.length).toBe(5);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await client.get(`/console/orders?from=${tomorrow}`)).json().data.rows).toEqual([]);

    // The scoped operator never sees shop9's order, even by its number; an unscoped one does.
    expect((await client.get(`/console/orders?out_trade_no=${other}`)).json().data.rows).toEqual([]);
    const all = await signedIn('opal');
    expect((await all.get(`/console/orders?out_trade_no=${other}`)).json().data.rows).toHaveLength(1);

    // A wrong amount is the caller's mistake, named: as JSON, and on the page with the form kept.
    const wrong = await client.get('/console/orders?min=1.234');
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toMatchObject({ code: 40001, field: 'min' });
    const page = await client.get('/console/orders?min=abc&lang=en', { html: true });
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('Enter an amount in yuan with at most two decimals');
    expect(page.body).toContain('value="abc"');
    expect(page.body).toMatch(/id="o-min"[^>]*aria-invalid="true"/);
  });

  it('pages forward and back by keyset, in the page and as JSON', async () => {
    const client = await signedIn('scoped');
    const first = (await client.get('/console/orders?limit=2')).json().data;
    expect(first.rows).toHaveLength(2);
    expect(first.previous).toBeNull();
    const second = (await client.get(`/console/orders?limit=2&after=${first.next}`)).json().data;
    const third = (await client.get(`/console/orders?limit=2&after=${second.next}`)).json().data;
    expect(third.next).toBeNull();
    const seen = [...first.rows, ...second.rows, ...third.rows].map(
      (row: { outTradeNo: string }) => row.outTradeNo,
    );
    expect(new Set(seen).size).toBe(5);
    // Back from the third page: the second page again, then the first, which has no previous.
    const back = (await client.get(`/console/orders?limit=2&before=${third.previous}`)).json().data;
    expect(back.rows).toEqual(second.rows);
    const front = (await client.get(`/console/orders?limit=2&before=${back.previous}`)).json().data;
    expect(front.rows).toEqual(first.rows);
    expect(front.previous).toBeNull();
    expect(front.next).toBe(first.next);

    const html = await client.get(`/console/orders?limit=2&after=${first.next}&lang=en`, { html: true });
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('rel="prev"');
    expect(html.body).toContain('rel="next"');
    expect(html.body.match(/data-testid="order-row"/g)).toHaveLength(2);
    expect(html.body).toContain(`href="/console/orders/${MERCHANT}/${second.rows[0].outTradeNo}?lang=en"`);
    expect((await client.get('/console/orders?after=forged')).json()).toMatchObject({ code: 40001 });
  });

  it('exports the search as a streamed CSV, in scope, formulas defused', async () => {
    const client = await signedIn('scoped');
    const csv = await client.get('/console/orders.csv?provider=wxpay');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toMatch(
      /^attachment; filename="vkpay-orders-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    const lines = csv.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toMatch(/^merchant_id,out_trade_no,transaction_id,provider/);
    expect(lines).toHaveLength(6);
    expect(csv.body).not.toContain(other);
    expect(csv.body).toContain(`"'=HYPERLINK(""http://evil.example"")"`);
    // The same filters as the search: one order by number.
    const one = await client.get(`/console/orders.csv?out_trade_no=${paid[2]}`);
    expect(one.body.trim().split('\r\n')).toHaveLength(2);
    // A refused filter is an answer, not a broken download.
    const refused = await client.get('/console/orders.csv?max=-1');
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 40001 });
    expect(await auditRows('orders.exported', '')).toEqual([]);
    const exported = await h.vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('action', '=', 'orders.exported')
      .where('actor_name', '=', 'scoped')
      .execute();
    expect(exported.length).toBe(2);
  });

  it('shows an order with its fields and timeline, and hides other merchants (40005)', async () => {
    const client = await signedIn('scoped');
    const answer = await client.get(orderUrl(paid[0]!));
    expect(answer.statusCode).toBe(200);
    const data = answer.json().data;
    expect(data.order).toMatchObject({ outTradeNo: paid[0], status: 'SUCCESS', totalFen: 1000 });
    expect(data.refundableFen).toBe(1000);
    const kinds = data.entries.map((entry: { kind: string }) => entry.kind);
    expect(kinds).toEqual(expect.arrayContaining(['created', 'journal', 'callback', 'paid']));
    const call = data.entries.find(
      (entry: { kind: string; gateway?: boolean }) => entry.kind === 'journal' && entry.gateway,
    );
    expect(call.latencyMs).toEqual(expect.any(Number));

    const page = await client.get(`${orderUrl(paid[0]!)}?lang=en`, { html: true });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Order ');
    expect(page.body).toContain('data-testid="order-refundable">¥10.00');
    expect(page.body).toContain('data-testid="timeline-entry" data-kind="callback"');
    expect(page.body).toContain('Refund amount (yuan)');

    const hidden = await client.get(orderUrl(other, 'shop9'));
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json()).toMatchObject({ code: 40005 });
    const refund = await client.post(`${orderUrl(other, 'shop9')}/refund`, {
      out_refund_no: 'CX1',
      refund_fee: 100,
      confirm: true,
    });
    expect(refund.json()).toMatchObject({ code: 40005 });
    const close = await client.post(`${orderUrl(other, 'shop9')}/close`);
    expect(close.json()).toMatchObject({ code: 40005 });
    expect((await h.vkPay.getOrder('shop9', other)).status).toBe('NOTPAY');

    // A viewer reads the page without the action forms.
    const viewer = await signedIn('vic');
    const view = await viewer.get(`${orderUrl(paid[0]!)}?lang=en`, { html: true });
    expect(view.body).toContain('Viewers cannot act on orders');
    expect(view.body).not.toContain('/refund"');
  });

  it('refuses every action to a viewer (403 40009) and without the CSRF token, changing nothing', async () => {
    const viewer = await signedIn('vic');
    for (const action of ['refund', 'close', 'query']) {
      const answer = await viewer.post(`${orderUrl(action === 'close' ? unpaid : paid[0]!)}/${action}`, {
        ...(action === 'refund' ? { out_refund_no: 'CV1', refund_fee: 100, confirm: true } : {}),
      });
      expect(answer.statusCode, action).toBe(403);
      expect(answer.json(), action).toMatchObject({ code: 40009 });
    }
    const operator = await signedIn('opal');
    const forged = await h.app.inject({
      method: 'POST',
      url: `${orderUrl(paid[0]!)}/refund`,
      headers: { accept: 'application/json', cookie: operator.cookieHeader(), origin: ORIGIN },
      payload: { out_refund_no: 'CF1', refund_fee: 100, confirm: true },
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.json()).toMatchObject({ code: 40009 });
    const foreign = await operator.post(`${orderUrl(unpaid)}/close`, {}, { origin: 'https://evil.example' });
    expect(foreign.statusCode).toBe(403);
    expect((await h.vkPay.listRefunds(MERCHANT, paid[0]!)).length).toBe(0);
    expect((await h.vkPay.getOrder(MERCHANT, unpaid)).status).toBe('NOTPAY');
  });

  it('refunds in part after a confirmation step, at the emulator, once however often it is sent, with its audit row', async () => {
    const client = await signedIn('opal');
    const no = paid[1]!;
    // The confirmation step: nothing is refunded yet.
    const preview = await client.post(`${orderUrl(no)}/refund`, { out_refund_no: 'CR1', amount: '10.50' });
    expect(preview.statusCode).toBe(200);
    expect(preview.json().data).toMatchObject({ confirmed: false, refundFen: 1050, refundableFen: 2500 });
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toEqual([]);

    const outRefundNo = `${no}R1`;
    const body = { out_refund_no: outRefundNo, amount: '10.50', reason: '部分退款', confirm: true };
    const done = await client.post(`${orderUrl(no)}/refund`, body);
    expect(done.statusCode).toBe(200);
    expect(done.json().data).toMatchObject({ confirmed: true, created: true, refund: { refund_fee: 1050 } });
    // Sent again (a double click): the same refund, nothing new.
    const again = await client.post(`${orderUrl(no)}/refund`, body);
    expect(again.json().data).toMatchObject({ created: false });
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toHaveLength(1);

    // The emulator has it, and it settles: the order's refunded amount moves.
    const atGateway = await h.control('GET', `/refunds/${h.mchId}/${outRefundNo}`);
    expect(atGateway.status).toBe(200);
    expect(atGateway.json).toMatchObject({ out_refund_no: outRefundNo, amount: { refund: 1050 } });
    await h.control('POST', `/refunds/${h.mchId}/${outRefundNo}/succeed`);
    const settled = await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.refundedFen === 1050,
    );
    expect(settled).toMatchObject({ status: 'PARTIAL_REFUNDED', refundedFen: 1050 });

    const rows = await auditRows('refund.created', `${MERCHANT}/${no}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_name: 'opal',
      before: { status: 'SUCCESS', refundedFen: 0, refundableFen: 2500 },
      after: {
        outRefundNo,
        refundFen: 1050,
        refundStatus: 'PROCESSING',
        reason: '部分退款',
        refundableFen: 1450,
      },
    });

    // More than what is left: the code's message, nothing refunded, no audit row.
    const tooMuch = await client.post(`${orderUrl(no)}/refund`, {
      out_refund_no: `${no}R2`,
      amount: '14.51',
      confirm: true,
    });
    expect(tooMuch.statusCode).toBe(400);
    expect(tooMuch.json()).toMatchObject({
      code: 40001,
      field: 'refund_fee',
      details: { refundableFen: 1450 },
    });
    const page = await client.send('POST', `${orderUrl(no)}/refund?lang=en`, {
      form: { out_refund_no: `${no}R2`, amount: '14.51', confirm: '1' },
      html: true,
    });
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain(
      'Invalid or missing parameters: The refund of ¥14.51 is more than the ¥14.50 still refundable; nothing was refunded.',
    );
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toHaveLength(1);
    expect(await auditRows('refund.created', `${MERCHANT}/${no}`)).toHaveLength(1);
    expect((await h.control('GET', `/refunds/${h.mchId}/${no}R2`)).status).toBe(404);
  });

  it('refunds by the forms: the confirmation page, then a redirect to the order with the outcome', async () => {
    const client = await signedIn('opal');
    const no = paid[2]!;
    const page = await client.get(`${orderUrl(no)}?lang=en`, { html: true });
    const outRefundNo = /name="out_refund_no" value="([^"]+)"/.exec(page.body)![1]!;
    const confirm = await client.send('POST', `${orderUrl(no)}/refund?lang=en`, {
      form: { out_refund_no: outRefundNo, amount: '5', reason: 'damaged' },
      html: true,
    });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('<h1>Confirm the refund</h1>');
    expect(confirm.body).toContain('Refund ¥5.00 of order');
    expect(confirm.body).toContain('¥35.00 will still be refundable');
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toEqual([]);
    const sent = await client.send('POST', `${orderUrl(no)}/refund?lang=en`, {
      form: { out_refund_no: outRefundNo, amount: '5.00', reason: 'damaged', confirm: '1' },
      html: true,
    });
    expect(sent.statusCode).toBe(303);
    expect(sent.headers.location).toBe(`${orderUrl(no)}?done=refund&refund=${outRefundNo}&lang=en`);
    const after = await client.get(sent.headers.location as string, { html: true });
    expect(after.body).toContain(`Refund ${outRefundNo} sent: ¥5.00`);
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toHaveLength(1);
    // The same form sent twice: the second is the same refund.
    const twice = await client.send('POST', `${orderUrl(no)}/refund?lang=en`, {
      form: { out_refund_no: outRefundNo, amount: '5.00', reason: 'damaged', confirm: '1' },
      html: true,
    });
    expect(twice.headers.location).toContain('done=repeat');
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toHaveLength(1);
    expect(await auditRows('refund.created', `${MERCHANT}/${no}`)).toHaveLength(1);
  });

  it('reserves no refund whose audit row cannot be written: the row commits with the change or neither does', async () => {
    const no = paid[2]!;
    const before = await h.vkPay.listRefunds(MERCHANT, no);
    const attempt = h.vkPay.refund(
      { merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}RX`, refund_fee: 100 },
      async (tx) => {
        await tx.insertInto('console_audit').values({ action: 'refund.created', target: 'x' }).execute();
        throw new Error('the audit store is down');
      },
    );
    await expect(attempt).rejects.toThrow();
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toEqual(before);
    expect(await auditRows('refund.created', 'x')).toEqual([]);
    expect((await h.control('GET', `/refunds/${h.mchId}/${no}RX`)).status).toBe(404);
  });

  it('shows a refund the gateway refused (a short balance) on the page: nothing refunded, its reservation freed', async () => {
    const client = await signedIn('opal');
    const no = paid[0]!;
    await h.control('POST', '/faults', { kind: 'notEnough', operation: 'refund', times: 1 });
    try {
      const page = await client.send('POST', `${orderUrl(no)}/refund?lang=en`, {
        form: { out_refund_no: `${no}RN`, amount: '1.00', confirm: '1' },
        html: true,
      });
      expect(page.statusCode).toBe(409);
      expect(page.body).toContain('Insufficient balance: The gateway refused refund');
      const [refund] = await h.vkPay.listRefunds(MERCHANT, no);
      expect(refund).toMatchObject({ status: 'REFUSED', refundFen: 100 });
      expect((await h.vkPay.getOrder(MERCHANT, no)).refundedFen).toBe(0);
      expect(page.body).toContain('data-testid="order-refundable">¥10.00');
      // The reservation was audited as it was made; the gateway's refusal is on the timeline.
      expect(await auditRows('refund.created', `${MERCHANT}/${no}`)).toHaveLength(1);
    } finally {
      await h.control('DELETE', '/faults');
    }
  });

  it('closes an unpaid order at the gateway and here, with its audit row; a paid one is refused', async () => {
    const client = await signedIn('opal');
    const closed = await client.post(`${orderUrl(unpaid)}/close`);
    expect(closed.statusCode).toBe(200);
    expect(closed.json().data).toMatchObject({ closed: true, order: { status: 'CLOSED' } });
    const trade = await h.control('GET', `/trades/${h.mchId}/${unpaid}`);
    expect(trade.json.transaction.trade_state).toBe('CLOSED');
    const rows = await auditRows('order.closed', `${MERCHANT}/${unpaid}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_name: 'opal',
      before: { status: 'NOTPAY' },
      after: { status: 'CLOSED' },
    });
    // Again: nothing to do, no second row.
    expect((await client.post(`${orderUrl(unpaid)}/close`)).json().data).toMatchObject({ closed: false });
    expect(await auditRows('order.closed', `${MERCHANT}/${unpaid}`)).toHaveLength(1);

    const refused = await client.post(`${orderUrl(paid[0]!)}/close`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 40006 });
    const page = await client.send('POST', `${orderUrl(paid[0]!)}/close?lang=en`, { form: {}, html: true });
    expect(page.statusCode).toBe(409);
    expect(page.body).toContain('Order already paid: The order is paid (SUCCESS) and cannot be closed');
    expect((await h.vkPay.getOrder(MERCHANT, paid[0]!)).status).toBe('SUCCESS');
    expect(await auditRows('order.closed', `${MERCHANT}/${paid[0]}`)).toEqual([]);
  });

  it('queries the gateway now: a payment whose callback was lost is applied, with its audit row', async () => {
    const no = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 300,
      subject: 'lost callback',
      type: 'goods',
    });
    await h.control('POST', '/faults', { channel: 'notify', kind: 'drop', times: 'always' });
    try {
      await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(
        (
          await h.vkPay.store.db
            .selectFrom('payment_orders')
            .select('status')
            .where('out_trade_no', '=', no)
            .executeTakeFirst()
        )?.status,
      ).toBe('NOTPAY');
      const client = await signedIn('opal');
      const answer = await client.send('POST', `${orderUrl(no)}/query?lang=en`, { form: {}, html: true });
      expect(answer.statusCode).toBe(303);
      expect(answer.headers.location).toBe(`${orderUrl(no)}?done=query&lang=en`);
      const page = await client.get(answer.headers.location as string, { html: true });
      expect(page.body).toContain('The gateway was asked: status SUCCESS');
      const rows = await auditRows('order.queried', `${MERCHANT}/${no}`);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        before: { status: 'NOTPAY', refundedFen: 0 },
        after: { status: 'SUCCESS', asked: 'payment' },
      });
      // Asked again about a paid order without refunds in progress: recorded, nothing to ask.
      const final = await client.post(`${orderUrl(no)}/query`);
      expect(final.json().data).toMatchObject({ asked: [], changes: 0, order: { status: 'SUCCESS' } });
      expect(await auditRows('order.queried', `${MERCHANT}/${no}`)).toHaveLength(2);
    } finally {
      await h.control('DELETE', '/faults');
    }
  });
});
