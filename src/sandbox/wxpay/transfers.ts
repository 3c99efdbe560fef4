/**
 * 商家转账 on the emulator: the bill book, its API under /v3/fund-app/mch-transfer (create, query by
 * out_bill_no, cancel), the payees' side under /sandbox/transfers (register a payee and the state
 * of their account, confirm receipt as wx.requestMerchantTransfer would, let a bill expire) and
 * the signed MCHTRANSFER.BILL.FINISHED notification. Bills are kept in memory only.
 *
 * As strict as the gateway where its rules are known: signatures, out_bill_no of digits and
 * letters, one number one bill (the same request again answers the same bill; different
 * parameters are refused), user_name encrypted with the WeChat Pay key that Wechatpay-Serial names
 * and required from 2,000 yuan, the scene's report infos (1000: 活动名称 and 奖励说明).
 */
import { constants, createHash, privateDecrypt } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { request as httpRequest } from 'undici';
import type { WxpayGateway } from './gateway.ts';
import { gatewaySignatureHeaders } from './gateway-signature.ts';
import type { Merchant } from './merchants.ts';
import { NOTIFY_RETRY_SCHEDULE_SECONDS } from './notifier.ts';
import { formatChinaTime, randomAlphanumeric, randomDigits } from './runtime.ts';
import { installSignedTransport, signedOperation } from './signed-scope.ts';
import { encryptAes256Gcm } from './wire-crypto.ts';
import { invalidField, invalidRequest, missingField, WxpayWireError } from './wire-errors.ts';

export type TransferBillState =
  | 'ACCEPTED'
  | 'PROCESSING'
  | 'WAIT_USER_CONFIRM'
  | 'TRANSFERING'
  | 'SUCCESS'
  | 'FAIL'
  | 'CANCELING'
  | 'CANCELLED';

/** A payee's WeChat account as the emulator knows it. Unknown openids are NORMAL, with no name check. */
export interface TransferPayee {
  openid: string;
  /** Real name: a user_name that differs fails the bill (NAME_NOT_CORRECT). */
  name?: string;
  status: 'NORMAL' | 'FROZEN' | 'CLOSED';
  /** required: the bill waits for the payee's confirmation; none: paid at once (免确认 scenes). */
  confirm: 'required' | 'none';
}

export interface TransferBill {
  mchid: string;
  appid: string;
  outBillNo: string;
  transferBillNo: string;
  sceneId: string;
  openid: string;
  /** Decrypted, in the emulator's memory only, so tests see what arrived. */
  userName: string | undefined;
  amount: number;
  remark: string;
  notifyUrl: string | undefined;
  state: TransferBillState;
  failReason: string | undefined;
  packageInfo: string | undefined;
  createdAt: number;
  updatedAt: number;
  fingerprint: string;
  /** Create requests that named this bill (the first and any repeats). */
  createRequests: number;
  notifications: Array<{ status?: number; error?: string }>;
}

/** 2,000 yuan: from here a transfer must carry the payee's name. */
export const NAME_REQUIRED_FROM_FEN = 200_000;
const OUT_BILL_NO = /^[0-9A-Za-z]{5,32}$/;
/** The report infos a scene requires (only 现金营销 is modelled). */
const SCENE_REPORT_INFOS: Record<string, readonly string[]> = { '1000': ['活动名称', '奖励说明'] };
/** Gateway time before an accepted bill is settled (paid or failed). */
const SETTLE_MS = 100_000;

export class TransferBook {
  readonly bills = new Map<string, TransferBill>();
  readonly payees = new Map<string, TransferPayee>();

  constructor(private readonly gateway: WxpayGateway) {}

  registerPayee(input: Record<string, unknown>): TransferPayee {
    const openid = input.openid;
    if (typeof openid !== 'string' || openid.length === 0) throw missingField('openid');
    const status = input.status ?? 'NORMAL';
    if (status !== 'NORMAL' && status !== 'FROZEN' && status !== 'CLOSED')
      throw invalidField('status', status, '取值应为NORMAL|FROZEN|CLOSED');
    const confirm = input.confirm ?? 'required';
    if (confirm !== 'required' && confirm !== 'none')
      throw invalidField('confirm', confirm, '取值应为required|none');
    const payee: TransferPayee = {
      openid,
      ...(typeof input.name === 'string' ? { name: input.name } : {}),
      status,
      confirm,
    };
    this.payees.set(openid, payee);
    return payee;
  }

  get(mchid: string, outBillNo: string): TransferBill | undefined {
    return this.bills.get(`${mchid}:${outBillNo}`);
  }

  create(merchant: Merchant, body: Record<string, unknown>, userName: string | undefined): TransferBill {
    const text = (field: string, max: number): string => {
      const value = body[field];
      if (value === undefined || value === null || value === '') throw missingField(field);
      if (typeof value !== 'string') throw invalidField(field, typeof value, '类型错误，应为字符串');
      if (Array.from(value).length > max) throw invalidField(field, '(too long)', `长度不能超过${max}`);
      return value;
    };
    const appid = text('appid', 32);
    if (!merchant.appids.has(appid))
      throw new WxpayWireError(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    const outBillNo = text('out_bill_no', 32);
    if (!OUT_BILL_NO.test(outBillNo))
      throw invalidField('out_bill_no', outBillNo, '只能由数字、大小写字母组成');
    const sceneId = text('transfer_scene_id', 16);
    const openid = text('openid', 64);
    const remark = text('transfer_remark', 32);
    const amount = body.transfer_amount;
    if (amount === undefined) throw missingField('transfer_amount');
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1)
      throw invalidField('transfer_amount', amount, '应为正整数（分）');
    const notifyUrl = body.notify_url === undefined ? undefined : text('notify_url', 256);
    if (notifyUrl !== undefined && !/^https?:\/\/[^?#\s]+$/.test(notifyUrl))
      throw invalidField('notify_url', notifyUrl, '应为不带参数的URL');
    const required = SCENE_REPORT_INFOS[sceneId];
    if (required) {
      const infos = body.transfer_scene_report_infos;
      const types = Array.isArray(infos)
        ? infos.map((info) => (info as { info_type?: unknown })?.info_type)
        : [];
      const missing = required.filter((type) => !types.includes(type));
      if (missing.length > 0)
        throw invalidRequest(`转账场景${sceneId}需报备信息：${missing.join('、')}`, {
          field: 'transfer_scene_report_infos',
        });
    }
    if (amount >= NAME_REQUIRED_FROM_FEN && !userName)
      throw invalidRequest('转账金额>=2000元时，收款用户姓名必填', { field: 'user_name' });
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([appid, sceneId, openid, amount, remark, userName ?? null]))
      .digest('hex');
    const key = `${merchant.mchid}:${outBillNo}`;
    const existing = this.bills.get(key);
    if (existing) {
      // The same bill asked again (a retry after a timeout): the same answer, nothing new.
      if (existing.fingerprint !== fingerprint)
        throw invalidRequest('商户单号已存在，且本次请求参数与原请求不一致', { field: 'out_bill_no' });
      existing.createRequests += 1;
      return existing;
    }
    const now = this.gateway.runtime.clock.now();
    const payee = this.payees.get(openid) ?? { openid, status: 'NORMAL', confirm: 'required' };
    const bill: TransferBill = {
      mchid: merchant.mchid,
      appid,
      outBillNo,
      transferBillNo: `1330${randomDigits(this.gateway.runtime.random, 30)}`,
      sceneId,
      openid,
      userName,
      amount,
      remark,
      notifyUrl,
      state: 'ACCEPTED',
      failReason: undefined,
      packageInfo: undefined,
      createdAt: now,
      updatedAt: now,
      fingerprint,
      createRequests: 1,
      notifications: [],
    };
    this.bills.set(key, bill);
    const failure =
      payee.status === 'FROZEN'
        ? 'ACCOUNT_FROZEN'
        : payee.status === 'CLOSED'
          ? 'ACCOUNT_NOT_EXIST'
          : userName !== undefined && payee.name !== undefined && payee.name !== userName
            ? 'NAME_NOT_CORRECT'
            : undefined;
    if (failure) this.later(bill, () => this.finish(bill, 'FAIL', failure));
    else if (payee.confirm === 'none') this.later(bill, () => this.finish(bill, 'SUCCESS'));
    else {
      bill.state = 'WAIT_USER_CONFIRM';
      bill.packageInfo = randomAlphanumeric(this.gateway.runtime.random, 64);
    }
    return bill;
  }

  /** The payee confirms receipt in WeChat (wx.requestMerchantTransfer with the package_info). */
  confirm(bill: TransferBill): TransferBill {
    if (bill.state !== 'WAIT_USER_CONFIRM') throw invalidRequest(`单据状态为${bill.state}，不能确认收款`);
    this.move(bill, 'TRANSFERING');
    this.later(bill, () => this.finish(bill, 'SUCCESS'));
    return bill;
  }

  /** The payee never confirmed: the bill closes as failed (unverified reason name). */
  expire(bill: TransferBill): TransferBill {
    if (bill.state !== 'WAIT_USER_CONFIRM') throw invalidRequest(`单据状态为${bill.state}，不能过期`);
    this.finish(bill, 'FAIL', 'TRANSFER_OVERDUE');
    return bill;
  }

  cancel(bill: TransferBill): TransferBill {
    if (bill.state !== 'WAIT_USER_CONFIRM' && bill.state !== 'ACCEPTED')
      throw new WxpayWireError(400, 'INVALID_REQUEST', `单据状态为${bill.state}，不能撤销`);
    this.move(bill, 'CANCELING');
    this.later(bill, () => this.finish(bill, 'CANCELLED'));
    return bill;
  }

  private later(bill: TransferBill, task: () => void): void {
    this.gateway.scheduler.after(SETTLE_MS, () => {
      if (bill.state === 'SUCCESS' || bill.state === 'FAIL' || bill.state === 'CANCELLED') return;
      task();
    });
  }

  private move(bill: TransferBill, state: TransferBillState): void {
    bill.state = state;
    bill.updatedAt = this.gateway.runtime.clock.now();
  }

  private finish(bill: TransferBill, state: 'SUCCESS' | 'FAIL' | 'CANCELLED', failReason?: string): void {
    this.move(bill, state);
    bill.failReason = failReason;
    this.gateway.changed();
    this.notify(bill);
  }

  /** MCHTRANSFER.BILL.FINISHED, encrypted and signed like payment notifications, retried on WeChat's schedule. */
  private notify(bill: TransferBill): void {
    if (!bill.notifyUrl) return;
    const merchant = this.gateway.merchants.get(bill.mchid);
    if (!merchant) return;
    const dropped = this.gateway.faults.take(
      'notify',
      { mchid: bill.mchid, outTradeNo: bill.outBillNo, eventType: 'MCHTRANSFER.BILL.FINISHED' },
      ['drop'],
    );
    if (dropped) return;
    const nonce = randomAlphanumeric(this.gateway.runtime.random, 12);
    const body = JSON.stringify({
      id: randomAlphanumeric(this.gateway.runtime.random, 32),
      create_time: formatChinaTime(this.gateway.runtime.clock.now()),
      resource_type: 'encrypt-resource',
      event_type: 'MCHTRANSFER.BILL.FINISHED',
      summary: '商家转账单据终态通知',
      resource: {
        original_type: 'mch_payment',
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: encryptAes256Gcm(
          merchant.apiV3Key,
          nonce,
          'mch_payment',
          JSON.stringify(billJson(bill, true)),
        ),
        associated_data: 'mch_payment',
        nonce,
      },
    });
    const attempt = (index: number) => {
      const headers = gatewaySignatureHeaders(
        this.gateway.merchants.notificationSigningKey(merchant),
        body,
        this.gateway.runtime,
      );
      void httpRequest(bill.notifyUrl!, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
        headersTimeout: 5000,
        bodyTimeout: 5000,
      })
        .then(async (response) => {
          await response.body.dump();
          return { status: response.statusCode };
        })
        .catch((error: Error) => ({ error: error.message }) as { status?: number; error?: string })
        .then((outcome) => {
          bill.notifications.push(outcome);
          if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) return;
          const wait = NOTIFY_RETRY_SCHEDULE_SECONDS[index];
          if (wait !== undefined) this.gateway.scheduler.after(wait * 1000, () => attempt(index + 1));
        });
    };
    attempt(0);
  }
}

/** The bill as the API answers it; `full` adds what a query and a notification carry. */
export function billJson(bill: TransferBill, full: boolean): Record<string, unknown> {
  const view: Record<string, unknown> = {
    out_bill_no: bill.outBillNo,
    transfer_bill_no: bill.transferBillNo,
    create_time: formatChinaTime(bill.createdAt),
    state: bill.state,
  };
  if (bill.state === 'WAIT_USER_CONFIRM' && bill.packageInfo) view.package_info = bill.packageInfo;
  if (bill.failReason) view.fail_reason = bill.failReason;
  if (full) {
    view.mch_id = bill.mchid;
    view.appid = bill.appid;
    view.transfer_amount = bill.amount;
    view.transfer_remark = bill.remark;
    view.openid = bill.openid;
    view.update_time = formatChinaTime(bill.updatedAt);
  }
  return view;
}

const books = new WeakMap<WxpayGateway, TransferBook>();

/** The gateway's transfer book, made on first use. */
export function transferBookOf(gateway: WxpayGateway): TransferBook {
  let book = books.get(gateway);
  if (!book) {
    book = new TransferBook(gateway);
    books.set(gateway, book);
  }
  return book;
}

type Params = Record<string, string>;

function billOf(book: TransferBook, mchid: string, outBillNo: string): TransferBill {
  const bill = book.get(mchid, outBillNo);
  if (!bill) throw new WxpayWireError(404, 'NOT_FOUND', '记录不存在');
  return bill;
}

/** The signed API, mounted at /v3/fund-app/mch-transfer. */
export async function transferApiRoutes(
  scope: FastifyInstance,
  options: { gateway: WxpayGateway },
): Promise<void> {
  const { gateway } = options;
  const book = transferBookOf(gateway);
  installSignedTransport(scope, gateway);
  const outBillNoOf = (request: FastifyRequest) => (request.params as Params).outBillNo;

  scope.post(
    '/transfer-bills',
    signedOperation(gateway, {
      operation: 'transfer',
      outTradeNo: (context) =>
        typeof context.body.out_bill_no === 'string' ? context.body.out_bill_no : undefined,
      handle: ({ merchant, body }, request) => {
        let userName: string | undefined;
        if (body.user_name !== undefined) {
          // Sensitive fields arrive encrypted with the WeChat Pay key that Wechatpay-Serial names.
          const serial = request.headers['wechatpay-serial'];
          const key = gateway.merchants.decryptionKey(
            merchant,
            typeof serial === 'string' ? serial : undefined,
          );
          if (!key) throw invalidRequest('Wechatpay-Serial 不是有效的微信支付公钥ID或平台证书序列号');
          try {
            userName = privateDecrypt(
              { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
              Buffer.from(String(body.user_name), 'base64'),
            ).toString('utf8');
          } catch {
            throw invalidField('user_name', '(encrypted)', '解密失败，请使用微信支付公钥或平台证书加密');
          }
        }
        return { status: 200, body: billJson(book.create(merchant, body, userName), false) };
      },
    }),
  );

  scope.get(
    '/transfer-bills/out-bill-no/:outBillNo',
    signedOperation(gateway, {
      operation: 'transferQuery',
      outTradeNo: (_context, request) => outBillNoOf(request),
      handle: ({ merchant }, request) => ({
        status: 200,
        body: billJson(billOf(book, merchant.mchid, outBillNoOf(request)!), true),
      }),
    }),
  );

  scope.post(
    '/transfer-bills/out-bill-no/:outBillNo/cancel',
    signedOperation(gateway, {
      operation: 'transferCancel',
      outTradeNo: (_context, request) => outBillNoOf(request),
      handle: ({ merchant }, request) => {
        const bill = book.cancel(billOf(book, merchant.mchid, outBillNoOf(request)!));
        return {
          status: 200,
          body: {
            out_bill_no: bill.outBillNo,
            transfer_bill_no: bill.transferBillNo,
            state: bill.state,
            update_time: formatChinaTime(bill.updatedAt),
          },
        };
      },
    }),
  );
}

/** The payees' side, mounted at /sandbox/transfers: not WeChat's protocol, unauthenticated. */
export async function transferControlRoutes(
  scope: FastifyInstance,
  options: { gateway: WxpayGateway },
): Promise<void> {
  const book = transferBookOf(options.gateway);
  scope.setErrorHandler((error, _request, reply) => {
    if (error instanceof WxpayWireError) return reply.code(error.status).send(error.toBody());
    return reply.code(500).send({ code: 'SYSTEM_ERROR', message: (error as Error).message });
  });
  const view = (bill: TransferBill) => ({
    ...billJson(bill, true),
    user_name: bill.userName ?? null,
    create_requests: bill.createRequests,
    notifications: bill.notifications,
  });
  const bill = (request: FastifyRequest) => {
    const params = request.params as Params;
    return billOf(book, params.mchid!, params.outBillNo!);
  };
  scope.post('/payees', async (request) =>
    book.registerPayee((request.body ?? {}) as Record<string, unknown>),
  );
  scope.get('/:mchid/:outBillNo', async (request) => view(bill(request)));
  scope.post('/:mchid/:outBillNo/confirm', async (request) => view(book.confirm(bill(request))));
  scope.post('/:mchid/:outBillNo/expire', async (request) => view(book.expire(bill(request))));
}
