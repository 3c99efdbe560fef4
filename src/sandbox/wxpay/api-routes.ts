/**
 * The WeChat Pay APIv3 endpoints the emulator serves (protocols.md A.6): prepay for JSAPI, APP,
 * H5 and Native, query, close, refund, refund query and the platform certificate download.
 */
import { constants, privateDecrypt } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BILL_READY_HOUR, tradeBillText } from './bills.ts';
import type { WxpayGateway } from './gateway.ts';
import { ownerMchid, partnerRoutes } from './partner-routes.ts';
import { PREPAY_PRODUCTS, prepayAnswer } from './prepay-answer.ts';
import type { AbnormalRecipient } from './refunds.ts';
import { formatChinaTime, randomAlphanumeric } from './runtime.ts';
import { installSignedTransport, type SignedRequestContext, signedOperation } from './signed-scope.ts';
import { encryptAes256Gcm } from './wire-crypto.ts';
import {
  invalidField,
  invalidRequest,
  missingField,
  resourceNotExists,
  WxpayWireError,
} from './wire-errors.ts';
import {
  parseCodepayRequest,
  parsePrepayRequest,
  parseRefundRequest,
  type TradeType,
} from './wire-requests.ts';
import { refundJson, transactionJson } from './wire-views.ts';

function requiredText(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (value === undefined || value === null || value === '') throw missingField(field);
  if (typeof value !== 'string') throw invalidField(field, value, '类型错误，应为字符串');
  return value;
}

export interface ApiRoutesOptions {
  gateway: WxpayGateway;
  /** Where the payer page lives, e.g. http://127.0.0.1:8090 or the host's prefix; from the request if unset. */
  payerBaseUrl: (request: FastifyRequest) => string;
}

type Params = Record<string, string>;
type Query = Record<string, string | undefined>;

/** Queries name the merchant again in `?mchid=`, which must be the signing merchant. */
function checkQueryMchid(context: SignedRequestContext, request: FastifyRequest): void {
  const mchid = (request.query as Query).mchid;
  if (!mchid) {
    throw new WxpayWireError(
      400,
      'PARAM_ERROR',
      '输入源“/query/mchid”映射到字段“mchid”必填性规则校验失败，此字段为必填项',
      {
        field: 'mchid',
        location: 'query',
      },
    );
  }
  if (mchid !== context.merchant.mchid) {
    throw invalidRequest('请求参数中的mchid与请求头Authorization中的mchid不一致', {
      field: 'mchid',
      value: mchid,
    });
  }
}

function bodyOutTradeNo(context: SignedRequestContext): string | undefined {
  const value = context.body.out_trade_no;
  return typeof value === 'string' ? value : undefined;
}

export async function apiRoutes(scope: FastifyInstance, options: ApiRoutesOptions): Promise<void> {
  const { gateway } = options;
  installSignedTransport(scope, gateway);
  partnerRoutes(scope, options);

  for (const { path, tradeType } of PREPAY_PRODUCTS) {
    scope.post(
      `/pay/transactions/${path}`,
      signedOperation(gateway, {
        operation: 'prepay',
        outTradeNo: bodyOutTradeNo,
        handle: ({ merchant, body }, request) => {
          const prepay = parsePrepayRequest(tradeType, body, merchant, gateway.runtime.clock.now());
          return prepayAnswer(gateway, options.payerBaseUrl, gateway.trades.prepay(prepay), request);
        },
      }),
    );
  }

  // 付款码支付: SUCCESS at once (200 Transaction), or 202 USERPAYING while the buyer confirms.
  scope.post(
    '/pay/transactions/codepay',
    signedOperation(gateway, {
      operation: 'codepay',
      outTradeNo: bodyOutTradeNo,
      handle: ({ merchant, body }) => {
        const { trade, confirming } = gateway.trades.codepay(
          parseCodepayRequest(body, merchant),
          gateway.codes,
        );
        if (confirming) return { status: 202, body: { code: 'USERPAYING', message: '需要用户输入支付密码' } };
        return { status: 200, body: transactionJson(trade) };
      },
    }),
  );

  // 撤销: closes an unpaid payment-code trade for good, or refunds a paid one (REVOKED either way).
  scope.post(
    '/pay/transactions/out-trade-no/:outTradeNo/reverse',
    signedOperation(gateway, {
      operation: 'reverse',
      outTradeNo: (_context, request) => (request.params as Params).outTradeNo,
      handle: ({ merchant, body }, request) => {
        if (body.mchid === undefined) throw missingField('mchid');
        if (body.mchid !== merchant.mchid)
          throw invalidRequest('请求参数中的mchid与请求头Authorization中的mchid不一致', {
            field: 'mchid',
            value: body.mchid,
          });
        const appid = requiredText(body, 'appid');
        if (!merchant.appids.has(appid))
          throw new WxpayWireError(400, 'APPID_MCHID_NOT_MATCH', 'appid和mchid不匹配，请检查后重试', {
            field: 'appid',
            value: appid,
          });
        const trade = gateway.trades.reverse(merchant.mchid, (request.params as Params).outTradeNo!);
        return {
          status: 200,
          body: { appid: trade.appid, mchid: trade.mchid, out_trade_no: trade.outTradeNo },
        };
      },
    }),
  );

  scope.get(
    '/pay/transactions/out-trade-no/:outTradeNo',
    signedOperation(gateway, {
      operation: 'query',
      outTradeNo: (_context, request) => (request.params as Params).outTradeNo,
      handle: (context, request) => {
        checkQueryMchid(context, request);
        const trade = gateway.trades.get(context.merchant.mchid, (request.params as Params).outTradeNo!);
        return { status: 200, body: transactionJson(trade) };
      },
    }),
  );

  scope.get(
    '/pay/transactions/id/:transactionId',
    signedOperation(gateway, {
      operation: 'query',
      outTradeNo: (context, request) =>
        gateway.trades.findByTransactionId(context.merchant.mchid, (request.params as Params).transactionId!)
          ?.outTradeNo,
      handle: (context, request) => {
        checkQueryMchid(context, request);
        const trade = gateway.trades.getByTransactionId(
          context.merchant.mchid,
          (request.params as Params).transactionId!,
        );
        return { status: 200, body: transactionJson(trade) };
      },
    }),
  );

  scope.post(
    '/pay/transactions/out-trade-no/:outTradeNo/close',
    signedOperation(gateway, {
      operation: 'close',
      outTradeNo: (_context, request) => (request.params as Params).outTradeNo,
      handle: ({ merchant, body }, request) => {
        if (body.mchid !== merchant.mchid) {
          throw body.mchid === undefined
            ? new WxpayWireError(
                400,
                'PARAM_ERROR',
                '输入源“/body/mchid”映射到字段“mchid”必填性规则校验失败，此字段为必填项',
                { field: 'mchid' },
              )
            : invalidRequest('请求参数中的mchid与请求头Authorization中的mchid不一致', {
                field: 'mchid',
                value: body.mchid,
              });
        }
        gateway.trades.close(merchant.mchid, (request.params as Params).outTradeNo!);
        return { status: 204 };
      },
    }),
  );

  scope.post(
    '/refund/domestic/refunds',
    signedOperation(gateway, {
      operation: 'refund',
      outTradeNo: (context) => {
        const transactionId = context.body.transaction_id;
        const paid =
          typeof transactionId === 'string'
            ? gateway.trades.findByTransactionId(context.merchant.mchid, transactionId)
            : undefined;
        return paid?.outTradeNo ?? bodyOutTradeNo(context);
      },
      handle: ({ merchant, body }) => {
        // A service provider refunds for its sub-merchant by naming it in sub_mchid.
        const { sub_mchid: subMchid, ...refundBody } = body;
        const owner = ownerMchid(gateway, merchant, subMchid);
        const refund = gateway.refunds.create(merchant, parseRefundRequest(refundBody), owner);
        return { status: 200, body: refundJson(refund) };
      },
    }),
  );

  scope.get(
    '/refund/domestic/refunds/:outRefundNo',
    signedOperation(gateway, {
      operation: 'refundQuery',
      outTradeNo: (context, request) =>
        gateway.refunds.find(context.merchant.mchid, (request.params as Params).outRefundNo!)?.outTradeNo,
      handle: ({ merchant }, request) => {
        const owner = ownerMchid(gateway, merchant, (request.query as Query).sub_mchid);
        return {
          status: 200,
          body: refundJson(gateway.refunds.get(owner, (request.params as Params).outRefundNo!)),
        };
      },
    }),
  );

  scope.post(
    '/refund/domestic/refunds/:refundId/apply-abnormal-refund',
    signedOperation(gateway, {
      operation: 'abnormalRefund',
      outTradeNo: (context) => {
        const outRefundNo = context.body.out_refund_no;
        return typeof outRefundNo === 'string'
          ? gateway.refunds.find(context.merchant.mchid, outRefundNo)?.outTradeNo
          : undefined;
      },
      handle: ({ merchant, body }, request) => {
        const outRefundNo = requiredText(body, 'out_refund_no');
        const type = requiredText(body, 'type');
        if (type !== 'USER_BANK_CARD' && type !== 'MERCHANT_BANK_CARD')
          throw invalidField('type', type, '取值应为USER_BANK_CARD或MERCHANT_BANK_CARD');
        const recipient: AbnormalRecipient = { type };
        if (type === 'USER_BANK_CARD') {
          // Sensitive fields arrive encrypted with the platform key that Wechatpay-Serial names.
          const serial = request.headers['wechatpay-serial'];
          const key = gateway.merchants.decryptionKey(
            merchant,
            typeof serial === 'string' ? serial : undefined,
          );
          if (!key) throw invalidRequest('Wechatpay-Serial 不是有效的微信支付公钥ID或平台证书序列号');
          const decrypt = (field: string) => {
            try {
              return privateDecrypt(
                { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
                Buffer.from(requiredText(body, field), 'base64'),
              ).toString('utf8');
            } catch (error) {
              if (error instanceof WxpayWireError) throw error;
              throw invalidField(field, '(encrypted)', '解密失败，请使用微信支付公钥或平台证书加密');
            }
          };
          recipient.bankType = requiredText(body, 'bank_type');
          recipient.bankAccount = decrypt('bank_account');
          recipient.realName = decrypt('real_name');
        }
        const refundId = (request.params as Params).refundId!;
        const owner = ownerMchid(gateway, merchant, body.sub_mchid);
        const refund = gateway.refunds.applyAbnormal(owner, refundId, outRefundNo, recipient);
        return { status: 200, body: refundJson(refund) };
      },
    }),
  );

  // 交易账单: a past China date's bill, from 10:00 the next day, if the day had a payment or refund.
  scope.get(
    '/bill/tradebill',
    signedOperation(gateway, {
      operation: 'bill',
      handle: ({ merchant }, request) => {
        const query = request.query as Record<string, string | undefined>;
        const date = query.bill_date ?? '';
        if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw invalidField('bill_date', date, '格式应为YYYY-MM-DD');
        if (query.bill_type !== undefined && query.bill_type !== 'ALL')
          throw invalidField('bill_type', query.bill_type, '模拟器仅支持ALL');
        const now = formatChinaTime(gateway.runtime.clock.now());
        const noStatement = () => new WxpayWireError(400, 'NO_STATEMENT_EXIST', '请求的账单文件不存在');
        if (date >= now.slice(0, 10)) throw noStatement();
        const yesterday = formatChinaTime(gateway.runtime.clock.now() - 86_400_000).slice(0, 10);
        if (date === yesterday && Number(now.slice(11, 13)) < BILL_READY_HOUR)
          throw new WxpayWireError(400, 'STATEMENT_CREATING', '账单生成中');
        // A service provider's bill for one sub-merchant: sub_mchid.
        const owner = ownerMchid(gateway, merchant, query.sub_mchid);
        const text = tradeBillText(owner, date, gateway.trades.all(), gateway.refunds.all());
        if (text === undefined) throw noStatement();
        const { token, sha1 } = gateway.bills.issue(merchant.mchid, text);
        return {
          status: 200,
          body: {
            hash_type: 'SHA1',
            hash_value: sha1,
            download_url: `${options.payerBaseUrl(request)}/v3/billdownload/file?token=${token}`,
          },
        };
      },
    }),
  );

  scope.get(
    '/billdownload/file',
    signedOperation(gateway, {
      operation: 'bill',
      handle: ({ merchant }, request) => {
        const token = (request.query as Record<string, string | undefined>).token ?? '';
        const text = gateway.bills.take(merchant.mchid, token);
        if (text === undefined) throw resourceNotExists('账单文件不存在或已过期');
        return { status: 200, text };
      },
    }),
  );

  scope.get(
    '/certificates',
    signedOperation(gateway, {
      operation: 'certificates',
      handle: ({ merchant }) => {
        if (merchant.keyMode === 'publicKey') {
          throw new WxpayWireError(
            404,
            'NOT_FOUND',
            '无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥',
          );
        }
        const data = gateway.merchants.platformCertificates().map((certificate) => {
          const nonce = randomAlphanumeric(gateway.runtime.random, 12);
          return {
            serial_no: certificate.serial,
            effective_time: formatChinaTime(certificate.notBefore.getTime()),
            expire_time: formatChinaTime(certificate.notAfter.getTime()),
            encrypt_certificate: {
              algorithm: 'AEAD_AES_256_GCM',
              nonce,
              associated_data: 'certificate',
              ciphertext: encryptAes256Gcm(
                merchant.apiV3Key,
                nonce,
                'certificate',
                certificate.certificatePem,
              ),
            },
          };
        });
        return { status: 200, body: { data } };
      },
    }),
  );
}
