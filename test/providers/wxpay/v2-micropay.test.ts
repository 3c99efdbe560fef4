/**
 * Payment codes on a WeChat Pay APIv2 account through the provider, over HTTPS against the APIv2
 * emulator: /pay/micropay with MD5 and HMAC-SHA256 accounts, orderquery, and /secapi/pay/reverse
 * over mutual TLS.
 */
import { createHash } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import type { FetchLike } from '../../../src/providers/network.ts';
import type { PaymentOrder } from '../../../src/providers/provider.ts';
import {
  createWxpayProvider,
  type WxpayAccountConfig,
  type WxpayProvider,
} from '../../../src/providers/wxpay/index.ts';
import {
  type RunningWxpayV2Sandbox,
  selfSignedClientCertificate,
  startWxpayV2Sandbox,
} from '../../../src/sandbox/wxpay-v2/index.ts';

interface Registered {
  mchid: string;
  appids: string[];
  apiKey: string;
  clientCertificate: { cert: string; key: string };
}

let emulator: RunningWxpayV2Sandbox;
let agent: Agent;
let wxpay: WxpayProvider;
/** The same accounts, with every answer's total_fee rewritten on the way in. */
let tampered: WxpayProvider;
/** Forwards every call, and answers micropay with a signed SYSTEMERROR (the gateway's work done). */
let systemError: WxpayProvider;
const micropayCalls: string[] = [];
let md5: Registered;
let hmac: Registered;
let sequence = 0;

const control = async (path: string, body?: unknown) => {
  const response = await undiciFetch(`${emulator.url}/sandbox${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    dispatcher: agent,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, string> };
};

beforeAll(async () => {
  emulator = await startWxpayV2Sandbox({ timeFactor: 0.001 });
  agent = new Agent({ connect: { ca: emulator.caPem } });
  md5 = (await emulator.gateway.addMerchant({ appid: 'wx2421b1c4370ec4aa' })) as Registered;
  hmac = (await emulator.gateway.addMerchant({
    appid: 'wx2421b1c4370ec4bb',
    signType: 'HMAC-SHA256',
  })) as Registered;
  const common = {
    merchantId: 'm1',
    apiVersion: 'v2' as const,
    baseUrl: emulator.url,
    gatewayCaPems: [emulator.caPem],
    timeoutMs: 3_000,
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
  };
  const merchants: WxpayAccountConfig[] = [
    {
      ...common,
      mchId: md5.mchid,
      appId: md5.appids[0]!,
      apiKey: md5.apiKey,
      clientCertificate: md5.clientCertificate,
    },
    {
      ...common,
      account: 'hmac',
      mchId: hmac.mchid,
      appId: hmac.appids[0]!,
      apiKey: hmac.apiKey,
      signType: 'HMAC-SHA256' as const,
      clientCertificate: hmac.clientCertificate,
    },
    {
      ...common,
      account: 'forgedcert',
      mchId: md5.mchid,
      appId: md5.appids[0]!,
      apiKey: md5.apiKey,
      clientCertificate: await selfSignedClientCertificate(`CN=${md5.mchid}, O=Not the test CA`),
    },
    { ...common, account: 'wrongkey', mchId: md5.mchid, appId: md5.appids[0]!, apiKey: 'f'.repeat(32) },
  ];
  wxpay = createWxpayProvider({ merchants });
  const tamper: FetchLike = async (url, init) => {
    const response = await undiciFetch(url, init as never);
    const text = (await response.text()).replace(/<total_fee>(\d+)<\/total_fee>/, '<total_fee>1</total_fee>');
    return new Response(text, { status: response.status, headers: response.headers }) as never;
  };
  tampered = createWxpayProvider({ merchants, fetch: tamper });
  const signMd5 = (fields: Record<string, string>) =>
    createHash('md5')
      .update(
        `${Object.keys(fields)
          .sort()
          .map((k) => `${k}=${fields[k]}`)
          .join('&')}&key=${md5.apiKey}`,
      )
      .digest('hex')
      .toUpperCase();
  const busy: FetchLike = async (url, init) => {
    const reverse = String(url).endsWith('/secapi/pay/reverse');
    // The reverse never reaches the gateway; the micropay does, and its answer is lost.
    if (!reverse) {
      const response = await undiciFetch(url, init as never);
      if (!String(url).endsWith('/pay/micropay')) return response as never;
      micropayCalls.push(String(url));
      await response.text();
    }
    const common = {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      appid: md5.appids[0]!,
      mch_id: md5.mchid,
      nonce_str: 'n0nce',
    };
    // A reverse that asks to be called again; a micropay whose outcome the gateway could not tell.
    const fields: Record<string, string> = reverse
      ? { ...common, result_code: 'FAIL', err_code: 'SYSTEMERROR', err_code_des: '系统错误', recall: 'Y' }
      : { ...common, result_code: 'FAIL', err_code: 'SYSTEMERROR', err_code_des: '系统超时' };
    const xml = `<xml>${Object.entries({ ...fields, sign: signMd5(fields) })
      .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
      .join('')}</xml>`;
    return new Response(xml, { status: 200 }) as never;
  };
  systemError = createWxpayProvider({ merchants, fetch: busy });
}, 60_000);
afterAll(async () => {
  await emulator?.close();
  await agent?.close();
});

async function paymentCode(behaviour: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { status, json } = await control('/payment-codes', { behaviour, ...extra });
  expect(status).toBe(200);
  expect(json.authCode).toMatch(/^1[0-5]\d{16}$/);
  return json.authCode!;
}

const counterOrder = (authCode: string, overrides: Partial<PaymentOrder> = {}): PaymentOrder => ({
  merchantId: 'm1',
  outTradeNo: `WM${Date.now()}${++sequence}`,
  totalFen: 2345,
  subject: '门店收款',
  scene: 'micropay',
  notifyUrl: 'https://pay.example.com/notify/wxpay/m1',
  clientIp: '10.0.0.8',
  authCode,
  ...overrides,
});

async function refusal(promise: Promise<unknown>): Promise<PayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PayError) return error;
    throw error;
  }
  throw new Error('expected a PayError');
}

const query = (outTradeNo: string, account?: string) =>
  wxpay.queryPayment({ merchantId: 'm1', outTradeNo, ...(account ? { account } : {}) });

describe.each([
  ['MD5', undefined],
  ['HMAC-SHA256', 'hmac'],
])('wxpay APIv2 micropay (%s)', (_signType, account) => {
  const order = (authCode: string) => counterOrder(authCode, account ? { account } : {});

  it('a code paid at once answers SUCCESS with the amount and ids, without the code', async () => {
    const authCode = await paymentCode('pay', { openid: 'oBuyer123' });
    const sent = order(authCode);
    const created = await wxpay.createPayment(sent);
    expect(created.client).toEqual({ scene: 'micropay' });
    expect(created.result).toMatchObject({
      merchantId: 'm1',
      provider: 'wxpay',
      outTradeNo: sent.outTradeNo,
      status: 'SUCCESS',
      amountFen: 2345,
      mchId: account ? hmac.mchid : md5.mchid,
      appId: account ? hmac.appids[0] : md5.appids[0],
      source: 'query',
    });
    expect(created.result!.transactionId).toMatch(/^42\d{26}$/);
    expect(created.result!.paidAt).toBeInstanceOf(Date);
    expect(JSON.stringify([created.raw, created.result!.raw])).not.toContain(authCode);
    expect(await query(sent.outTradeNo, account)).toMatchObject({
      status: 'SUCCESS',
      transactionId: created.result!.transactionId,
    });
  });

  it('a code needing the password answers USERPAYING; after confirmation a query says SUCCESS', async () => {
    const sent = order(await paymentCode('password'));
    const created = await wxpay.createPayment(sent);
    expect(created.result).toMatchObject({
      status: 'USERPAYING',
      amountFen: 2345,
      transactionId: null,
      paidAt: null,
    });
    expect((await query(sent.outTradeNo, account)).status).toBe('USERPAYING');
    const mchid = account ? hmac.mchid : md5.mchid;
    expect((await control(`/trades/${mchid}/${sent.outTradeNo}/pay`, {})).status).toBe(200);
    expect(await query(sent.outTradeNo, account)).toMatchObject({ status: 'SUCCESS', amountFen: 2345 });
  });

  it('a buyer who never confirms is reversed over mutual TLS; the query then says REVOKED (CLOSED)', async () => {
    const sent = order(await paymentCode('never'));
    expect((await wxpay.createPayment(sent)).result!.status).toBe('USERPAYING');
    const mchid = account ? hmac.mchid : md5.mchid;
    expect((await control(`/trades/${mchid}/${sent.outTradeNo}/pay`, {})).status).toBe(400);
    expect(
      await wxpay.reversePayment!({
        merchantId: 'm1',
        outTradeNo: sent.outTradeNo,
        ...(account ? { account } : {}),
      }),
    ).toBe('reversed');
    const after = await query(sent.outTradeNo, account);
    expect(after.status).toBe('CLOSED');
    expect((after.raw as Record<string, string>).trade_state).toBe('REVOKED');
  });
});

describe('wxpay APIv2 micropay refusals and reverse', () => {
  it('a reused code is refused (40001 AUTH_CODE_INVALID)', async () => {
    const authCode = await paymentCode('pay');
    await wxpay.createPayment(counterOrder(authCode));
    const error = await refusal(wxpay.createPayment(counterOrder(authCode)));
    expect(error).toMatchObject({ code: 40001, gatewayCode: 'AUTH_CODE_INVALID', outcomeUnknown: false });
    expect(error.message).not.toContain(authCode);
  });

  it('an expired code is refused (40001 AUTHCODEEXPIRE)', async () => {
    const authCode = await paymentCode('pay', { ttlSeconds: 1 });
    await control('/clock', { offsetMs: 2_000 });
    try {
      expect(await refusal(wxpay.createPayment(counterOrder(authCode)))).toMatchObject({
        code: 40001,
        gatewayCode: 'AUTHCODEEXPIRE',
      });
    } finally {
      await control('/clock', { offsetMs: 0 });
    }
  });

  it('a code that is no WeChat code is refused', async () => {
    expect(await refusal(wxpay.createPayment(counterOrder('281234567890123456')))).toMatchObject({
      code: 40001,
      gatewayCode: 'AUTH_CODE_INVALID',
    });
  });

  it('insufficient balance is refused (40007 NOTENOUGH) and the order takes another code', async () => {
    const sent = counterOrder(await paymentCode('insufficient'));
    expect(await refusal(wxpay.createPayment(sent))).toMatchObject({
      code: 40007,
      gatewayCode: 'NOTENOUGH',
      outcomeUnknown: false,
    });
    const retried = await wxpay.createPayment({ ...sent, authCode: await paymentCode('pay') });
    expect(retried.result!.status).toBe('SUCCESS');
  });

  it('a paid order is refused with 40006 ORDERPAID, and the spare code still pays', async () => {
    const sent = counterOrder(await paymentCode('pay'));
    await wxpay.createPayment(sent);
    const spare = await paymentCode('pay');
    expect(await refusal(wxpay.createPayment({ ...sent, authCode: spare }))).toMatchObject({
      code: 40006,
      gatewayCode: 'ORDERPAID',
    });
    expect((await wxpay.createPayment(counterOrder(spare))).result!.status).toBe('SUCCESS');
  });

  it('reversing a paid order refunds it: REVOKED, and the order takes no other code', async () => {
    const sent = counterOrder(await paymentCode('pay'));
    await wxpay.createPayment(sent);
    expect(await wxpay.reversePayment!({ merchantId: 'm1', outTradeNo: sent.outTradeNo })).toBe('reversed');
    const trade = (await control(`/trades/${md5.mchid}/${sent.outTradeNo}`)).json as unknown as Record<
      string,
      unknown
    >;
    expect(trade).toMatchObject({ state: 'REVOKED', refundedFee: 2345 });
    expect(await refusal(wxpay.createPayment({ ...sent, authCode: await paymentCode('pay') }))).toMatchObject(
      {
        code: 50000,
        gatewayCode: 'ORDERREVERSED',
      },
    );
  });

  it('SYSTEMERROR is an unknown outcome: sent once, then settled by query and reverse', async () => {
    const sent = counterOrder(await paymentCode('pay'));
    const error = await refusal(systemError.createPayment(sent));
    expect(error).toMatchObject({ code: 40010, gatewayCode: 'SYSTEMERROR', outcomeUnknown: true });
    expect(micropayCalls).toHaveLength(1);
    // recall=Y: the same reverse must be sent again.
    expect(await systemError.reversePayment!({ merchantId: 'm1', outTradeNo: sent.outTradeNo })).toBe(
      'retry',
    );
    expect((await query(sent.outTradeNo)).status).toBe('SUCCESS');
    expect(await wxpay.reversePayment!({ merchantId: 'm1', outTradeNo: sent.outTradeNo })).toBe('reversed');
    expect((await query(sent.outTradeNo)).status).toBe('CLOSED');
  });

  it('reversing an order the gateway never saw is done', async () => {
    expect(await wxpay.reversePayment!({ merchantId: 'm1', outTradeNo: `NEVER${++sequence}` })).toBe(
      'reversed',
    );
  });

  it('reverse needs the client certificate of the gateway CA (40003)', async () => {
    const sent = counterOrder(await paymentCode('never'));
    await wxpay.createPayment(sent);
    const error = await refusal(
      wxpay.reversePayment!({ merchantId: 'm1', account: 'forgedcert', outTradeNo: sent.outTradeNo }),
    );
    expect(error.code).toBe(40003);
    expect((await query(sent.outTradeNo)).status).toBe('USERPAYING');
  });

  it('a request signed with the wrong key is refused (40002) and spends no code', async () => {
    const authCode = await paymentCode('pay');
    expect(await refusal(wxpay.createPayment(counterOrder(authCode, { account: 'wrongkey' })))).toMatchObject(
      { code: 40002 },
    );
    expect((await wxpay.createPayment(counterOrder(authCode))).result!.status).toBe('SUCCESS');
  });

  it('an answer whose sign does not verify is refused with the outcome unknown', async () => {
    const sent = counterOrder(await paymentCode('pay'));
    expect(await refusal(tampered.createPayment(sent))).toMatchObject({ code: 40002, outcomeUnknown: true });
    // It was paid: the query (untampered) settles it.
    expect((await query(sent.outTradeNo)).status).toBe('SUCCESS');
  });
});
