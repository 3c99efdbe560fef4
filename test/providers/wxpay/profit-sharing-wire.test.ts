/**
 * Profit-sharing wire bodies and gateway errors over a real socket, against a scripted gateway for
 * the answers the emulator does not give on demand: the encrypted receiver name, each refusal's
 * unified code, and which failures of a split leave its outcome unknown.
 */
import { constants, privateDecrypt } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isPayError } from '../../../src/core/errors.ts';
import { APP_ID, PUBLIC_KEY_ID, parties, provider } from './support/fixtures.ts';
import { startGateway, type TestGateway } from './support/gateway.ts';

const p = parties();
const clock = { now: Date.now() };
let gateway: TestGateway;
const ps = () => provider(p, gateway.baseUrl, clock).profitSharing!;
const sentBody = (index = 0) => JSON.parse(gateway.requests[index]!.body) as Record<string, unknown>;

beforeAll(async () => {
  gateway = await startGateway({ key: p.signer, clockMs: () => clock.now, script: () => ({ status: 500 }) });
});
afterAll(() => gateway.close());
afterEach(() => {
  gateway.requests.length = 0;
});

const split = {
  merchantId: 'm1',
  outTradeNo: 'T1',
  transactionId: '4200000000000000000000000001',
  outSplitNo: 'P20240001',
  lines: [{ type: 'MERCHANT_ID' as const, account: '1900000109', amountFen: 100, description: '分给商户' }],
  finish: false,
  notifyUrl: 'https://pay.example.com/unused',
};

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: unknown) =>
      isPayError(error) ? `${error.code}${error.outcomeUnknown ? ' unknown' : ''}` : String(error),
  );

describe('wxpay profit sharing on the wire', () => {
  it('encrypts the receiver name for the WeChat Pay key and names that key in Wechatpay-Serial', async () => {
    gateway.script = () => ({ status: 200, body: { type: 'MERCHANT_ID', account: '1900000109' } });
    await ps().addReceiver({
      merchantId: 'm1',
      receiver: { type: 'MERCHANT_ID', account: '1900000109', name: '示例商户', relationType: 'PARTNER' },
    });
    const request = gateway.requests[0]!;
    expect(request.url).toBe('/v3/profitsharing/receivers/add');
    expect(request.headers['wechatpay-serial']).toBe(PUBLIC_KEY_ID);
    const body = sentBody();
    expect(body).toMatchObject({
      appid: APP_ID,
      type: 'MERCHANT_ID',
      account: '1900000109',
      relation_type: 'PARTNER',
    });
    expect(request.body).not.toContain('示例商户');
    const name = privateDecrypt(
      { key: p.wechatpay.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      Buffer.from(String(body.name), 'base64'),
    ).toString('utf8');
    expect(name).toBe('示例商户');
  });

  it('sends the split body and maps each refusal to its unified code', async () => {
    gateway.script = () => ({
      status: 400,
      body: { code: 'INVALID_REQUEST', message: '分账接收方关系不存在' },
    });
    expect(await outcome(ps().split(split))).toBe('40001');
    expect(sentBody()).toEqual({
      appid: APP_ID,
      transaction_id: split.transactionId,
      out_order_no: split.outSplitNo,
      receivers: [{ type: 'MERCHANT_ID', account: '1900000109', amount: 100, description: '分给商户' }],
      unfreeze_unsplit: false,
    });
    gateway.script = () => ({ status: 403, body: { code: 'NOT_ENOUGH', message: '分账金额不足' } });
    expect(await outcome(ps().split(split))).toBe('40007');
    gateway.script = () => ({ status: 429, body: { code: 'FREQUENCY_LIMITED', message: '频率超限' } });
    expect(await outcome(ps().split(split))).toBe('40008');
    gateway.script = () => ({ status: 404, body: { code: 'RESOURCE_NOT_EXISTS', message: '记录不存在' } });
    expect(await outcome(ps().querySplit(split))).toBe('40005');
    expect(gateway.requests.at(-1)!.url).toBe(
      `/v3/profitsharing/orders/${split.outSplitNo}?transaction_id=${split.transactionId}`,
    );
  });

  it('leaves a split unknown on SYSTEM_ERROR (at any status), a 5xx or an unreadable answer', async () => {
    gateway.script = () => ({ status: 500, body: { code: 'SYSTEM_ERROR', message: '系统错误' } });
    expect(await outcome(ps().split(split))).toBe('40010 unknown');
    gateway.script = () => ({ status: 400, body: { code: 'SYSTEM_ERROR', message: '系统错误' } });
    expect(await outcome(ps().split(split))).toBe('40010 unknown');
    gateway.script = () => ({ status: 200, body: { out_order_no: split.outSplitNo, state: 'WHATEVER' } });
    expect(await outcome(ps().split(split))).toBe('50000 unknown');
    gateway.script = () => ({ status: 200, body: { out_order_no: 'OTHER', state: 'FINISHED' } });
    expect(await outcome(ps().split(split))).toBe('40002 unknown');
    // A query that cannot be read is just an error: nothing was asked to change.
    expect(await outcome(ps().querySplit(split))).toBe('40002');
  });

  it('refuses receiver types WeChat does not take, sending nothing', async () => {
    expect(
      await outcome(
        ps().split({ ...split, lines: [{ ...split.lines[0]!, type: 'ALIPAY_USER_ID', account: '2088' }] }),
      ),
    ).toBe('40001');
    expect(gateway.requests).toHaveLength(0);
  });
});
