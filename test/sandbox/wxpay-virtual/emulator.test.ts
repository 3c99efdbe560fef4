import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RunningWxVirtualSandbox,
  startWxVirtualSandbox,
} from '../../../src/sandbox/wxpay-virtual/index.ts';

const hmac = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex');
const sha1 = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');

describe('the virtual payment emulator is as strict as WeChat', () => {
  let emulator: RunningWxVirtualSandbox;
  let receiver: Server;
  const received: { url: string; body: string }[] = [];
  let failuresLeft = 2;
  // biome-ignore lint/suspicious/noExplicitAny: the emulator's registration answer
  let mp: Record<string, any>;
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${emulator.controlUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: tests read the answers freely
    return { status: response.status, json: (await response.json()) as any };
  };
  const token = async () =>
    (
      (await (
        await fetch(`${emulator.url}/cgi-bin/stable_token`, {
          method: 'POST',
          body: JSON.stringify({ grant_type: 'client_credential', appid: mp.appId, secret: mp.appSecret }),
        })
      ).json()) as { access_token: string }
    ).access_token;
  const xpay = async (uri: string, body: object, key: string, accessToken: string) => {
    const text = JSON.stringify(body);
    const response = await fetch(
      `${emulator.url}${uri}?${new URLSearchParams({ access_token: accessToken, pay_sig: hmac(key, `${uri}&${text}`) })}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: text },
    );
    return (await response.json()) as Record<string, unknown>;
  };
  const pay = async (outTradeNo: string, env: 0 | 1 = 1, price = 600) => {
    const buyer = (await control('POST', `/apps/${mp.appId}/sessions`, {})).json;
    const signData = JSON.stringify({
      offerId: mp.offerId,
      buyQuantity: 1,
      env,
      currencyType: 'CNY',
      platform: 'android',
      productId: 'coins_60',
      goodsPrice: price,
      outTradeNo,
      attach: '',
    });
    const key = env === 1 ? mp.sandboxAppKey : mp.appKey;
    return {
      buyer,
      answer: await control('POST', `/apps/${mp.appId}/payments`, {
        openid: buyer.openid,
        mode: 'short_series_goods',
        signData,
        paySig: hmac(key, `requestVirtualPayment&${signData}`),
        signature: hmac(buyer.session_key, signData),
      }),
    };
  };

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push({ url: request.url ?? '', body });
        if (failuresLeft > 0) {
          failuresLeft--;
          response
            .writeHead(200, { 'content-type': 'application/json' })
            .end('{"ErrCode":1,"ErrMsg":"busy"}');
        } else
          response
            .writeHead(200, { 'content-type': 'application/json' })
            .end('{"ErrCode":0,"ErrMsg":"success"}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    emulator = await startWxVirtualSandbox({ timeFactor: 0.001 });
    mp = (
      await control('POST', '/apps', {
        products: { coins_60: 600 },
        pushUrl: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/push`,
      })
    ).json;
  });
  afterAll(async () => {
    await emulator?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('retries a push until it is answered ErrCode 0, each attempt signed', async () => {
    const { answer } = await pay('VPRETRY0001');
    expect(answer.status).toBe(200);
    const deadline = Date.now() + 5_000;
    let pushes = (await control('GET', `/pushes?appId=${mp.appId}`)).json;
    while (!pushes[0]?.delivered && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      pushes = (await control('GET', `/pushes?appId=${mp.appId}`)).json;
    }
    expect(pushes[0].delivered).toBe(true);
    expect(pushes[0].attempts).toHaveLength(3);
    for (const { url } of received) {
      const query = new URL(url, 'http://x').searchParams;
      expect(query.get('signature')).toBe(
        sha1(mp.pushToken, query.get('timestamp') ?? '', query.get('nonce') ?? ''),
      );
    }
    expect((await control('GET', `/apps/${mp.appId}/orders/VPRETRY0001`)).json.status).toBe(4);
  });

  it('refuses a payment at another price, a reused number, or signed with the other env key', async () => {
    expect((await pay('VPPRICE0001', 1, 500)).answer.json.errMsg).toContain('goodsPrice');
    expect((await pay('VPREUSE0001')).answer.status).toBe(200);
    expect((await pay('VPREUSE0001')).answer.json.errMsg).toContain('used');
    const buyer = (await control('POST', `/apps/${mp.appId}/sessions`, {})).json;
    const signData = JSON.stringify({
      offerId: mp.offerId,
      buyQuantity: 1,
      env: 1,
      currencyType: 'CNY',
      productId: 'coins_60',
      goodsPrice: 600,
      outTradeNo: 'VPENVKEY001',
    });
    const wrongEnv = await control('POST', `/apps/${mp.appId}/payments`, {
      openid: buyer.openid,
      mode: 'short_series_goods',
      signData,
      paySig: hmac(mp.appKey, `requestVirtualPayment&${signData}`),
      signature: hmac(buyer.session_key, signData),
    });
    expect(wrongEnv.json.errMsg).toContain('paySig');
    // A session_key replaced by a new login no longer signs.
    await control('POST', `/apps/${mp.appId}/sessions`, { openid: buyer.openid });
    const stale = await control('POST', `/apps/${mp.appId}/payments`, {
      openid: buyer.openid,
      mode: 'short_series_goods',
      signData,
      paySig: hmac(mp.sandboxAppKey, `requestVirtualPayment&${signData}`),
      signature: hmac(buyer.session_key, signData),
    });
    expect(stale.json.errMsg).toContain('signature');
  });

  it('checks the token, its expiry, pay_sig over the exact body, left_fee and the refundable amount', async () => {
    const { buyer } = await pay('VPREFUND001');
    const accessToken = await token();
    const refund = (body: object, key = mp.sandboxAppKey, at = accessToken) =>
      xpay('/xpay/refund_order', body, key, at);
    const base = {
      openid: buyer.openid,
      order_id: 'VPREFUND001',
      refund_order_id: 'VPREFUND001R1',
      left_fee: 600,
      refund_fee: 200,
      biz_meta: '',
      refund_reason: '0',
      req_from: '1',
      env: 1,
    };
    expect(
      (await xpay('/xpay/query_order', { order_id: 'VPREFUND001', env: 1 }, mp.sandboxAppKey, 'bad')).errcode,
    ).toBe(40001);
    expect((await refund(base, mp.appKey)).errcode).toBe(268490003);
    expect((await refund({ ...base, left_fee: 500 })).errcode).toBe(268490016);
    expect((await refund({ ...base, refund_fee: 700, left_fee: 600 })).errcode).toBe(268490002);
    expect((await refund({ ...base, openid: 'oSomeoneElse' })).errcode).toBe(268490001);
    expect((await refund(base)).errcode).toBe(0);
    // The same refund again answers the same; the left fee went down.
    expect(await refund(base)).toMatchObject({ errcode: 0, refund_order_id: 'VPREFUND001R1' });
    const order = await xpay(
      '/xpay/query_order',
      { order_id: 'VPREFUND001', env: 1 },
      mp.sandboxAppKey,
      accessToken,
    );
    expect((order.order as { left_fee: number }).left_fee).toBe(400);
    // Orders of one env are not found from the other.
    expect(
      (await xpay('/xpay/query_order', { order_id: 'VPREFUND001', env: 0 }, mp.appKey, accessToken)).errcode,
    ).toBe(268500004);
    await control('POST', `/apps/${mp.appId}/expire-tokens`);
    expect(
      (await xpay('/xpay/query_order', { order_id: 'VPREFUND001', env: 1 }, mp.sandboxAppKey, accessToken))
        .errcode,
    ).toBe(42001);
  });
});
