/**
 * The console's Reconciliation page over the real HTTP stack and the WeChat Pay emulator: the days
 * of the operator's merchants with the bill's counts and amounts and each mismatch with its order;
 * "run now" through the same call as /admin/reconcile, audited, refused below operator (40009),
 * for another merchant (40005), and without the CSRF token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { chinaDate, pastDay } from '../support/days.ts';
import { addUser, ConsoleClient, PASSWORD } from './client.ts';

const tradeNo = tradeNumbers('CR');
const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);

describe.each(backends)('the console reconciliation page on $name', (backend) => {
  let h: WxpayHarness;
  const date = pastDay();
  let phantom = '';
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    await addUser(h.vkPay, 'root', 'admin');
    await addUser(h.vkPay, 'olga', 'operator', [MERCHANT]);
    await addUser(h.vkPay, 'vera', 'viewer');
    await addUser(h.vkPay, 'sam', 'operator', ['elsewhere']);
    // On the past day at the gateway: one payment with its callback.
    await h.control('POST', '/clock', { at: `${date}T12:00:00+08:00` });
    const paid = tradeNo();
    try {
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: paid,
        total_fee: 1234,
        subject: '对账页',
        type: 'goods',
      });
      await h.control('POST', `/trades/${h.mchId}/${paid}/pay`);
      expect(
        await eventually(
          async () => (await h.vkPay.getOrder(MERCHANT, paid)).status,
          (status) => status === 'SUCCESS',
        ),
      ).toBe('SUCCESS');
    } finally {
      await h.control('POST', '/clock', { offsetMs: 0 });
    }
    // Paid here on that day, absent from the bill: a mismatch with its order.
    phantom = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: phantom,
      total_fee: 900,
      subject: '对账页',
      type: 'goods',
    });
    await h.vkPay.applyPaymentResult({
      merchantId: MERCHANT,
      provider: 'wxpay',
      outTradeNo: phantom,
      status: 'SUCCESS',
      transactionId: '4200000000000000000000000777',
      amountFen: 900,
      mchId: h.mchId,
      appId: h.appId,
      paidAt: new Date(`${date}T13:00:00+08:00`),
      source: 'query',
      raw: null,
    });
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  const signedIn = async (name: string) => {
    const client = new ConsoleClient(h.app);
    expect((await client.signIn(name, PASSWORD)).statusCode).toBe(200);
    return client;
  };
  const auditRows = (action: string) =>
    h.vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('action', '=', action)
      .orderBy('id')
      .execute();

  it('refuses a viewer (40009), another merchant (40005) and a change without its CSRF token', async () => {
    const vera = await signedIn('vera');
    const asViewer = await vera.post('/console/reconciliation/run', {
      merchant: MERCHANT,
      provider: 'wxpay',
      date,
    });
    expect(asViewer.statusCode).toBe(403);
    expect(asViewer.json().code).toBe(40009);

    const sam = await signedIn('sam');
    const other = await sam.post('/console/reconciliation/run', {
      merchant: MERCHANT,
      provider: 'wxpay',
      date,
    });
    expect(other.statusCode).toBe(404);
    expect(other.json().code).toBe(40005);
    const otherList = await sam.get(`/console/reconciliation?merchant=${MERCHANT}`);
    expect(otherList.json().code).toBe(40005);

    const olga = await signedIn('olga');
    const forged = await olga.post(
      '/console/reconciliation/run',
      { merchant: MERCHANT, provider: 'wxpay', date },
      { 'x-csrf-token': '' },
    );
    expect(forged.statusCode).toBe(403);
    expect(forged.json().code).toBe(40009);
    // Nothing ran: no day, no audit row.
    expect(await h.vkPay.listReconciledDays({ merchantId: MERCHANT })).toEqual([]);
    expect(await auditRows('reconciliation.run')).toEqual([]);
  });

  it('runs a day now for an operator, audited, and lists it with its counts, amounts and mismatches', async () => {
    const olga = await signedIn('olga');
    const ran = await olga.post('/console/reconciliation/run', {
      merchant: MERCHANT,
      provider: 'wxpay',
      date,
    });
    expect(ran.statusCode).toBe(200);
    const found = {
      payments: 1,
      refunds: 0,
      paymentsFen: 1234,
      refundsFen: 0,
      matched: 1,
      healed: 0,
      mismatches: 1,
    };
    // The merchant's one account: its bill is the whole day.
    expect(ran.json().data.report).toEqual({
      provider: 'wxpay',
      merchantId: MERCHANT,
      date,
      ...found,
      accounts: [{ provider: 'wxpay', merchantId: MERCHANT, account: 'default', date, ...found }],
    });
    const [row] = await auditRows('reconciliation.run');
    expect(row).toMatchObject({ actor_name: 'olga', target: `wxpay:${MERCHANT}:${date}` });
    expect(json(row!.after)).toMatchObject({ payments: 1, paymentsFen: 1234, mismatches: 1 });

    // An operator of another merchant sees none of shop1's days.
    const sam = await signedIn('sam');
    expect((await sam.get('/console/reconciliation')).json().data.days).toEqual([]);

    // The viewer sees every merchant's days; the day has its mismatch with the order.
    const vera = await signedIn('vera');
    const listed = await vera.get(`/console/reconciliation?provider=wxpay&from=${date}&to=${date}`);
    expect(listed.statusCode).toBe(200);
    const [day] = listed.json().data.days;
    expect(day).toMatchObject({
      provider: 'wxpay',
      merchantId: MERCHANT,
      account: 'default',
      date,
      status: 'DONE',
      attempts: 1,
    });
    expect(day.mismatches).toHaveLength(1);
    expect(day.mismatches[0]).toMatchObject({
      outTradeNo: phantom,
      amountFen: 900,
      details: { reason: 'missing_in_bill' },
    });

    const page = await vera.get(`/console/reconciliation?lang=en&merchant=${MERCHANT}`, { html: true });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Reconciliation</h1>');
    expect(page.body).toContain('¥12.34');
    expect(page.body).toContain('¥9.00');
    expect(page.body).toContain(`href="/console/orders/${MERCHANT}/${phantom}?lang=en"`);
    expect(page.body).toContain('Payment missing in the bill');
    // Each day and each mismatch names its gateway account.
    expect(page.body).toContain('<th scope="col">Account</th>');
    expect(page.body).toContain('data-testid="mismatch-row" data-account="default"');
    const otherAccount = await vera.get(`/console/reconciliation?account=canary&merchant=${MERCHANT}`);
    expect(otherAccount.json().data.days).toEqual([]);
    // A viewer has no run form.
    expect(page.body).not.toContain('/console/reconciliation/run');
    const zh = await vera.get('/console/reconciliation', {
      html: true,
      headers: { 'accept-language': 'zh-CN' },
    });
    expect(zh.body).toContain('<h1>对账</h1>');
    expect(zh.body).toContain('账单缺少的支付');
  });

  it('runs from the form, redirects to the day with a notice, and shows a refusal on the page', async () => {
    const olga = await signedIn('olga');
    const page = await olga.get('/console/reconciliation?lang=en', { html: true });
    expect(page.body).toContain('action="/console/reconciliation/run?lang=en"');
    const posted = await olga.send('POST', '/console/reconciliation/run?lang=en', {
      html: true,
      form: { _csrf: olga.csrf, merchant: MERCHANT, provider: 'wxpay', date },
    });
    expect(posted.statusCode).toBe(303);
    expect(posted.headers.location).toBe(
      `/console/reconciliation?merchant=${MERCHANT}&provider=wxpay&ran=${date}&lang=en`,
    );
    const after = await olga.get(String(posted.headers.location), { html: true });
    expect(after.body).toContain('data-testid="ran"');
    expect(after.body).toContain('1 matched, 0 healed, 1 mismatches');
    // Run twice, still one mismatch: reconciling again adds nothing new.
    expect((await h.vkPay.listReconciledDays({ merchantId: MERCHANT }))[0]).toMatchObject({ attempts: 2 });

    // Today's bill is not published yet: the page says why, with the 400, and the attempt is audited.
    const today = chinaDate(Date.now());
    const refused = await olga.send('POST', '/console/reconciliation/run?lang=en', {
      html: true,
      form: { _csrf: olga.csrf, merchant: MERCHANT, provider: 'wxpay', date: today },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('role="alert"');
    expect(refused.body).toContain('40001');
    const [failed] = await auditRows('reconciliation.failed');
    expect(failed).toMatchObject({ actor_name: 'olga', target: `wxpay:${MERCHANT}:${today}` });
    expect(json(failed!.after)).toMatchObject({ code: 40001 });

    // A malformed date is the client's mistake: 400 40001, never a 5xx.
    const malformed = await olga.post('/console/reconciliation/run', {
      merchant: MERCHANT,
      provider: 'wxpay',
      date: '2026-13-45',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().code).toBe(40001);
    const unknownProvider = await olga.post('/console/reconciliation/run', {
      merchant: MERCHANT,
      provider: 'paypal',
      date,
    });
    expect(unknownProvider.statusCode).toBe(400);
  });
});
