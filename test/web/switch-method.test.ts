import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outTradeNo } from '../browser/harness.ts';
import { API_APP, eventually, MERCHANT, startWxpayHarness, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { signedApi } from '../support/signed-client.ts';

const DESKTOP = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0';

describe.each(backends)('the buyer switches payment method in the cashier ($name)', (backend) => {
  let h: WxpayHarness;
  let url: string;
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    url = h.vkPay.context.publicUrl;
  });
  afterAll(async () => {
    await h?.close();
  });

  const api = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    signedApi(url, API_APP)(method, path, body);
  const issue = async (no: string) => {
    const answer = await api('POST', '/api/checkouts', {
      out_trade_no: no,
      total_fee: 100,
      subject: 'tea',
      type: 'goods',
    });
    expect(answer.json.code).toBe(0);
    return answer.json.data.checkout.token as string;
  };
  const dropAlipayCallbacks = (no: string) =>
    h.alipay.control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      appId: h.alipay.appId,
      outTradeNo: no,
      times: 'always',
    });
  const choose = async (token: string, provider: 'wxpay' | 'alipay') => {
    const response = await fetch(`${url}/checkout/${token}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': DESKTOP },
      body: JSON.stringify({ provider }),
    });
    return (await response.json()) as any;
  };
  const status = async (token: string) =>
    ((await (await fetch(`${url}/checkout/${token}/status`)).json()) as any).data;
  const wxTrade = async (no: string) => (await h.control('GET', `/trades/${h.mchId}/${no}`)).json.transaction;
  const aliTrade = async (no: string) =>
    (await h.alipay.control('GET', `/trades/${h.alipay.appId}/${no}`)).json;
  /** The buyer's browser opens Alipay's cashier page (the trade then exists there) and logs in. */
  const openAlipay = async (answer: any, no: string) => {
    expect((await fetch(answer.data.payment.payUrl)).status).toBe(200);
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/scan`);
  };
  const paidHere = (no: string) =>
    eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.status === 'SUCCESS',
    );

  it('from WeChat to Alipay: WeChat closes its trade, Alipay takes the payment, WeChat is not offered again', async () => {
    const no = outTradeNo('SW');
    const token = await issue(no);
    expect((await choose(token, 'wxpay')).code).toBe(0);
    const switched = await choose(token, 'alipay');
    expect(switched).toMatchObject({ code: 0, data: { provider: 'alipay', scene: 'pc' } });
    expect(await wxTrade(no)).toMatchObject({ trade_state: 'CLOSED' });
    expect(await status(token)).toMatchObject({
      provider: 'alipay',
      outcome: 'pending',
      closedProviders: ['wxpay'],
    });
    // The closed WeChat trade cannot take this number again: refused, and the order stays with Alipay.
    expect(await choose(token, 'wxpay')).toMatchObject({ code: 40001, field: 'provider' });
    await openAlipay(switched, no);
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/pay`);
    const order = await paidHere(no);
    expect(order).toMatchObject({ status: 'SUCCESS', provider: 'alipay', totalFen: 100 });
    expect(order.attempts).toEqual([expect.objectContaining({ provider: 'wxpay', closed: 'closed' })]);
    expect(await status(token)).toMatchObject({ outcome: 'paid', provider: 'alipay' });
    // The merchant's API shows where the order was offered before.
    expect((await api('GET', `/api/payments/${no}`)).json.data.order).toMatchObject({
      provider: 'alipay',
      status: 'SUCCESS',
      attempts: [{ provider: 'wxpay', scene: 'native', closed: 'closed', switch_date: expect.any(String) }],
    });
  });

  it('from an opened Alipay page to WeChat: Alipay closes the trade, WeChat takes the payment', async () => {
    const no = outTradeNo('SA');
    const token = await issue(no);
    const first = await choose(token, 'alipay');
    await openAlipay(first, no);
    expect((await choose(token, 'wxpay')).data).toMatchObject({ provider: 'wxpay' });
    expect(await aliTrade(no)).toMatchObject({ tradeStatus: 'TRADE_CLOSED' });
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    expect(await paidHere(no)).toMatchObject({ status: 'SUCCESS', provider: 'wxpay' });
  });

  it('an Alipay page never opened, paid after switching to WeChat still settles the order, and WeChat is closed', async () => {
    const no = outTradeNo('SL');
    const token = await issue(no);
    const first = await choose(token, 'alipay');
    // Alipay has no trade until its page is opened: nothing to close, the attempt is recorded absent.
    expect((await choose(token, 'wxpay')).data).toMatchObject({ provider: 'wxpay' });
    expect((await h.vkPay.getOrder(MERCHANT, no)).attempts).toEqual([
      expect.objectContaining({ provider: 'alipay', closed: 'absent' }),
    ]);
    expect(await status(token)).toMatchObject({ closedProviders: [] });
    // The buyer opens the Alipay page still open in another tab and pays.
    await openAlipay(first, no);
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/pay`);
    const order = await paidHere(no);
    expect(order).toMatchObject({ provider: 'alipay', status: 'SUCCESS' });
    expect(order.attempts).toEqual([expect.objectContaining({ provider: 'wxpay', closed: 'open' })]);
    // The WeChat attempt the payment displaced is closed at WeChat.
    expect(
      await eventually(
        () => wxTrade(no),
        (trade) => trade.trade_state === 'CLOSED',
      ),
    ).toMatchObject({
      trade_state: 'CLOSED',
    });
  });

  it('paid through an Alipay page never opened, its callback lost: the status check finds it there', async () => {
    const no = outTradeNo('SQ');
    const token = await issue(no);
    const first = await choose(token, 'alipay');
    await choose(token, 'wxpay');
    await dropAlipayCallbacks(no);
    try {
      await openAlipay(first, no);
      await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/pay`);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await h.vkPay.getOrder(MERCHANT, no)).toMatchObject({ status: 'NOTPAY', provider: 'wxpay' });
      // The cashier's status check asks WeChat, then Alipay, where the attempt was never closed.
      expect(await status(token)).toMatchObject({ outcome: 'paid', provider: 'alipay' });
    } finally {
      await h.alipay.control('DELETE', '/faults');
    }
  });

  it('the merchant closes a switched order: the Alipay page never opened is closed as well', async () => {
    const no = outTradeNo('SC');
    const token = await issue(no);
    const first = await choose(token, 'alipay');
    await choose(token, 'wxpay');
    await openAlipay(first, no);
    const closed = await h.vkPay.closePayment(MERCHANT, no);
    expect(closed).toMatchObject({ status: 'CLOSED', provider: 'wxpay' });
    expect(await wxTrade(no)).toMatchObject({ trade_state: 'CLOSED' });
    // Opened after the switch, the Alipay trade existed when the order closed: closed there too.
    expect(await aliTrade(no)).toMatchObject({ tradeStatus: 'TRADE_CLOSED' });
  });

  it('paid through both attempts: the first payment stands and the second goes to review', async () => {
    const no = outTradeNo('SD');
    const token = await issue(no);
    const first = await choose(token, 'alipay');
    await choose(token, 'wxpay');
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    expect(await paidHere(no)).toMatchObject({ provider: 'wxpay' });
    await openAlipay(first, no);
    const second = (await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/pay`)).json;
    const reviews = await eventually(
      () => h.vkPay.listReviews(MERCHANT),
      (found) => found.some((review) => review.outTradeNo === no),
    );
    expect(reviews.find((review) => review.outTradeNo === no)).toMatchObject({
      kind: 'second_payment',
      provider: 'alipay',
      reference: second.tradeNo,
      amountFen: 100,
    });
    expect(await h.vkPay.getOrder(MERCHANT, no)).toMatchObject({ status: 'SUCCESS', provider: 'wxpay' });
  });

  it('an attempt Alipay never had may be chosen again; WeChat, closed, may not', async () => {
    const no = outTradeNo('SB');
    const token = await issue(no);
    await choose(token, 'alipay');
    await choose(token, 'wxpay');
    expect((await choose(token, 'alipay')).data).toMatchObject({ provider: 'alipay' });
    expect((await h.vkPay.getOrder(MERCHANT, no)).attempts).toEqual([
      expect.objectContaining({ provider: 'wxpay', closed: 'closed' }),
    ]);
    expect(await status(token)).toMatchObject({ provider: 'alipay', closedProviders: ['wxpay'] });
  });

  it('paid at the first gateway just before the switch: the payment stands, the switch says paid', async () => {
    const no = outTradeNo('SP');
    const token = await issue(no);
    await choose(token, 'wxpay');
    // Paid at WeChat a moment before the buyer switches.
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    const answer = await choose(token, 'alipay');
    expect(answer.code).toBe(40006);
    expect(await paidHere(no)).toMatchObject({ status: 'SUCCESS', provider: 'wxpay' });
    expect((await h.vkPay.getOrder(MERCHANT, no)).attempts).toEqual([]);
  });
});
