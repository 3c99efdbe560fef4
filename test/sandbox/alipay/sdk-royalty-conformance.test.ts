/**
 * Conformance of the emulator's profit sharing with the official alipay-sdk (v4): its bind, settle,
 * settle query, onsettle query and refund with refund_royalty_parameters pass our verification, it
 * verifies our answers, and it accepts our settle notification's signature.
 */
import { AlipaySdk } from 'alipay-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  generateAppKeys,
  type NotifyReceiver,
  startNotifyReceiver,
  waitFor,
} from './helpers.ts';

const RECEIVER = '2088000000000401';

describe('alipay-sdk profit sharing against the emulator', () => {
  let sandbox: RunningAlipaySandbox;
  let sdk: AlipaySdk;
  let receiver: NotifyReceiver;
  let appId: string;

  beforeAll(async () => {
    sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
    receiver = await startNotifyReceiver();
    const keys = generateAppKeys();
    const { json } = await controlJson<Record<string, string>>(`${sandbox.controlUrl}/apps`, {
      keyMode: 'publicKey',
      appPublicKey: keys.publicKeyPem,
    });
    appId = json.appId!;
    sdk = new AlipaySdk({
      appId,
      privateKey: keys.privateKeyPem,
      gateway: sandbox.gatewayUrl,
      alipayPublicKey: json.alipayPublicKeyBase64!,
    });
  });
  afterAll(async () => {
    await receiver.close();
    await sandbox.close();
  });

  it('bind, async settle, notification, queries and a refund taking the split back', async () => {
    const outTradeNo = 'SDK-ROYALTY-1';
    const created = await sdk.exec(
      'alipay.trade.create',
      {
        bizContent: {
          outTradeNo,
          totalAmount: '20.00',
          subject: 'SDK royalty',
          buyerId: '2088000000000007',
          extendParams: { royaltyFreeze: 'true' },
        },
      },
      { validateSign: true },
    );
    expect(created.code).toBe('10000');
    await controlJson(`${sandbox.controlUrl}/trades/${appId}/${outTradeNo}/pay`, {});
    const tradeNo = created.tradeNo as string;

    const bound = await sdk.exec(
      'alipay.trade.royalty.relation.bind',
      { bizContent: { receiverList: [{ type: 'userId', account: RECEIVER }], outRequestNo: 'SDK-BIND-1' } },
      { validateSign: true },
    );
    expect(bound).toMatchObject({ code: '10000', resultCode: 'SUCCESS' });

    const settled = await sdk.exec(
      'alipay.trade.order.settle',
      {
        notifyUrl: receiver.url,
        bizContent: {
          outRequestNo: 'SDK-SETTLE-1',
          tradeNo,
          royaltyParameters: [
            {
              royaltyType: 'transfer',
              transInType: 'userId',
              transIn: RECEIVER,
              amount: '8.00',
              desc: 'sdk',
            },
          ],
          extendParams: { royaltyFinish: 'false' },
          royaltyMode: 'async',
        },
      },
      { validateSign: true },
    );
    expect(settled).toMatchObject({ code: '10000', tradeNo });
    expect(settled.settleNo).toMatch(/^\d{32}$/);

    const message = await waitFor(() =>
      receiver.received.find((entry) => entry.params.msg_method === 'alipay.trade.order.settle.notify'),
    );
    expect(sdk.checkNotifySignV2(message.params)).toBe(true);
    expect(sdk.checkNotifySignV2({ ...message.params, app_id: '2021000000000000' })).toBe(false);

    const query = await sdk.exec(
      'alipay.trade.order.settle.query',
      { bizContent: { settleNo: settled.settleNo } },
      { validateSign: true },
    );
    expect(query).toMatchObject({ code: '10000', outRequestNo: 'SDK-SETTLE-1' });
    expect(query.royaltyDetailList).toEqual([
      expect.objectContaining({ transIn: RECEIVER, amount: '8.00', state: 'SUCCESS' }),
    ]);
    const onsettle = await sdk.exec(
      'alipay.trade.order.onsettle.query',
      { bizContent: { tradeNo } },
      { validateSign: true },
    );
    expect(onsettle).toMatchObject({ code: '10000', unsettledAmount: '12.00' });

    const refund = await sdk.exec(
      'alipay.trade.refund',
      {
        bizContent: {
          outTradeNo,
          refundAmount: '15.00',
          outRequestNo: 'SDK-R1',
          refundRoyaltyParameters: [
            { royaltyType: 'transfer', transOutType: 'userId', transOut: RECEIVER, amount: '3.00' },
          ],
        },
      },
      { validateSign: true },
    );
    expect(refund).toMatchObject({ code: '10000', fundChange: 'Y', refundFee: '15.00' });
  });
});
