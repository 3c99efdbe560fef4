/**
 * The sandbox control API (JSON, under /sandbox): register merchants, act as the payer, settle
 * refunds, inject faults and read the notification log. Not part of WeChat's protocol, so it is
 * neither authenticated nor signed; run the emulator on a trusted interface.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { applyClockChange, clockView } from '../shared/clock.ts';
import type { FaultSpec } from './faults.ts';
import type { WxpayGateway } from './gateway.ts';
import type { MerchantRegistration } from './merchants.ts';
import type { RefundOutcome } from './refunds.ts';
import { formatChinaTime } from './runtime.ts';
import type { SubMerchantRegistration } from './sub-merchants.ts';
import type { PaymentFailureCode, Trade } from './trades.ts';
import { invalidField, WxpayWireError } from './wire-errors.ts';
import { refundJson, transactionJson } from './wire-views.ts';

export interface ControlRoutesOptions {
  gateway: WxpayGateway;
  payerBaseUrl: (request: FastifyRequest) => string;
}

type Params = Record<string, string>;
type Body = Record<string, unknown> | undefined;

const FAILURE_CODES: readonly PaymentFailureCode[] = ['NOT_ENOUGH', 'ACCOUNT_ERROR', 'BANK_ERROR'];
const REFUND_ACTIONS: Record<string, RefundOutcome> = {
  succeed: 'SUCCESS',
  abnormal: 'ABNORMAL',
  close: 'CLOSED',
};

export async function controlRoutes(scope: FastifyInstance, options: ControlRoutesOptions): Promise<void> {
  const { gateway } = options;

  scope.setErrorHandler((error, _request, reply) => {
    if (error instanceof WxpayWireError) return reply.code(error.status).send(error.toBody());
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    return reply
      .code(status)
      .send({ code: status < 500 ? 'PARAM_ERROR' : 'SYSTEM_ERROR', message: (error as Error).message });
  });

  const tradeView = (trade: Trade, request: FastifyRequest) => {
    const base = `${options.payerBaseUrl(request)}/sandbox/payer`;
    return {
      transaction: transactionJson(trade),
      prepay_id: trade.prepayId,
      code_url: `weixin://wxpay/bizpayurl?pr=${trade.codeToken}`,
      payer_page_url:
        trade.tradeType === 'NATIVE' || trade.tradeType === 'MICROPAY'
          ? `${base}/native/${trade.codeToken}`
          : `${base}/prepay/${trade.prepayId}`,
      last_failure: trade.lastFailure ?? null,
      time_expire: trade.timeExpireMs === undefined ? null : formatChinaTime(trade.timeExpireMs),
      expired: gateway.trades.isExpired(trade),
      refundable: gateway.refunds.refundableFen(trade),
      refunds: gateway.refunds.forTrade(trade).map(refundJson),
    };
  };

  scope.post('/merchants', async (request) =>
    gateway.merchants.register(request.body as MerchantRegistration),
  );

  scope.get('/merchants/:mchid', async (request) =>
    gateway.merchants.credentials((request.params as Params).mchid!),
  );

  // Gateway time (trades, refunds, expiry, bills, certificate switches); signatures keep wall time.
  // Partner mode: authorise a sub-merchant (sub_mchid, its sub_appids) under a service provider.
  scope.post('/sub-merchants', async (request) =>
    gateway.subMerchants.register((request.body ?? {}) as SubMerchantRegistration),
  );

  scope.get('/clock', async () => clockView(gateway.runtime.clock));
  scope.post('/clock', async (request) => {
    applyClockChange(gateway.runtime.clock, request.body);
    return clockView(gateway.runtime.clock);
  });

  scope.post('/certificates/rotate', async (request) => {
    const switchAfterMs = (request.body as Body)?.switchAfterMs;
    if (switchAfterMs !== undefined && !(typeof switchAfterMs === 'number' && switchAfterMs >= 0))
      throw invalidField('switchAfterMs', switchAfterMs, '应为不小于0的毫秒数');
    const certificate = await gateway.merchants.rotatePlatformCertificate(switchAfterMs);
    return {
      serialNo: certificate.serial,
      certificatePem: certificate.certificatePem,
      publicKeyPem: certificate.publicKeyPem,
      signsFrom: formatChinaTime(certificate.signsFrom),
    };
  });

  scope.get('/trades/:mchid/:outTradeNo', async (request) => {
    const { mchid, outTradeNo } = request.params as Params;
    return tradeView(gateway.trades.get(mchid!, outTradeNo!), request);
  });

  scope.post('/trades/:mchid/:outTradeNo/pay', async (request) => {
    const { mchid, outTradeNo } = request.params as Params;
    const body = request.body as Body;
    const payer = {
      ...(typeof body?.openid === 'string' ? { openid: body.openid } : {}),
      ...(typeof body?.bankType === 'string' ? { bankType: body.bankType } : {}),
    };
    return tradeView(gateway.trades.pay(mchid!, outTradeNo!, payer), request);
  });

  scope.post('/trades/:mchid/:outTradeNo/fail', async (request) => {
    const { mchid, outTradeNo } = request.params as Params;
    const body = request.body as Body;
    const code = (body?.code ?? 'NOT_ENOUGH') as PaymentFailureCode;
    if (!FAILURE_CODES.includes(code)) throw invalidField('code', code, `取值应为${FAILURE_CODES.join('|')}`);
    return tradeView(gateway.trades.failPayment(mchid!, outTradeNo!, code, body?.final === true), request);
  });

  scope.post('/trades/:mchid/:outTradeNo/paying', async (request) => {
    const { mchid, outTradeNo } = request.params as Params;
    return tradeView(gateway.trades.startPaying(mchid!, outTradeNo!), request);
  });

  scope.post('/trades/:mchid/:outTradeNo/abandon', async (request) => {
    const { mchid, outTradeNo } = request.params as Params;
    return tradeView(gateway.trades.abandon(mchid!, outTradeNo!), request);
  });

  // A sandbox buyer shows a payment code: how they behave once it is scanned is chosen here.
  scope.post('/payment-codes', async (request) => {
    const body = request.body as Body;
    return gateway.codes.view(gateway.codes.issue(body?.behaviour ?? 'pays', body?.openid));
  });

  // Sends a paid trade's TRANSACTION.SUCCESS to a URL (a codepay names none): the sandbox's way to
  // deliver, and repeat, a genuine notification of a payment-code payment.
  scope.post('/trades/:mchid/:outTradeNo/notify', async (request) => {
    const { mchid, outTradeNo } = request.params as Params;
    const url = (request.body as Body)?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url))
      throw invalidField('url', url, '应为http(s)地址');
    const trade = gateway.trades.get(mchid!, outTradeNo!);
    if (trade.successAt === undefined)
      throw new WxpayWireError(400, 'ORDER_NOT_PAID', '订单未支付，不发送支付通知');
    gateway.notifier.paymentSucceeded({ ...trade, notifyUrl: url });
    return tradeView(trade, request);
  });

  scope.get('/refunds/:mchid/:outRefundNo', async (request) => {
    const { mchid, outRefundNo } = request.params as Params;
    const refund = gateway.refunds.get(mchid!, outRefundNo!);
    const recipient = refund.abnormalRecipient;
    return {
      ...refundJson(refund),
      // What 发起异常退款 delivered, decrypted; the card number shown by its last four digits.
      ...(recipient
        ? {
            abnormal_recipient: {
              type: recipient.type,
              ...(recipient.bankType ? { bank_type: recipient.bankType } : {}),
              ...(recipient.bankAccount ? { bank_account_last4: recipient.bankAccount.slice(-4) } : {}),
              ...(recipient.realName ? { real_name: recipient.realName } : {}),
            },
          }
        : {}),
    };
  });

  scope.post('/refunds/:mchid/:outRefundNo/:action', async (request) => {
    const { mchid, outRefundNo, action } = request.params as Params;
    const outcome = REFUND_ACTIONS[action!];
    if (!outcome) throw invalidField('action', action, '取值应为succeed|abnormal|close');
    return refundJson(gateway.refunds.settle(mchid!, outRefundNo!, outcome));
  });

  const faultView = (fault: ReturnType<typeof gateway.faults.add>) => ({
    id: fault.id,
    ...fault.spec,
    remaining: Number.isFinite(fault.remaining) ? fault.remaining : 'always',
    used: fault.used,
  });

  scope.get('/faults', async () => gateway.faults.list().map(faultView));
  scope.post('/faults', async (request) => faultView(gateway.faults.add((request.body ?? {}) as FaultSpec)));
  scope.delete('/faults', async () => ({ removed: gateway.faults.clear() }));
  scope.delete('/faults/:id', async (request) => ({
    removed: gateway.faults.clear((request.params as Params).id),
  }));

  scope.get('/notifications', async (request) => {
    const query = request.query as Record<string, string | undefined>;
    return gateway.notifier.list({
      ...(query.mchid ? { mchid: query.mchid } : {}),
      ...(query.out_trade_no ? { outTradeNo: query.out_trade_no } : {}),
    });
  });
}
