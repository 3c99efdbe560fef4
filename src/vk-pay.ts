/**
 * The library entry: `createVkPay(config)` opens the store and cache and returns the payment use
 * cases bound to them. The service and the CLI are built on this same object.
 */
import { type Logger, pino } from 'pino';
import { type Cache, openCache } from './cache/index.ts';
import { DEFAULT_CONFIG, type VkPayConfig } from './config/config.ts';
import { PROVIDERS, SCENES } from './core/validate.ts';
import type { PaymentResult, Provider, RefundResult } from './providers/provider.ts';
import type { ServiceContext } from './service/context.ts';
import { type BusinessHandler, HandlerRegistry } from './service/handlers.ts';
import type { MicropaySettings } from './service/micropay.ts';
import { handleNotify, type NotifyRequest } from './service/notify.ts';
import {
  closePayment,
  type PayRequest,
  pay,
  type QueryOptions,
  queryPayment,
} from './service/payment-flow.ts';
import { applyPaymentResult, type CreateOrderRequest, createOrder, getOrder } from './service/payments.ts';
import type { ReturnRequestInput, SplitRequestInput } from './service/profit-sharing.ts';
import {
  handleSplitNotify,
  orderSplits,
  queryReturn,
  querySplit,
  returnSplit,
  type SplitNotifyRequest,
  splitOrder,
  unfreezeOrder,
} from './service/profit-sharing-flow.ts';
import { addReceiver, type ReceiverInput, removeReceiver } from './service/profit-sharing-receivers.ts';
import { DEFAULT_PROFIT_SHARING, type ProfitSharingSettings } from './service/profit-sharing-settings.ts';
import { listReconciledDays, reconcileTradeBill } from './service/reconcile.ts';
import {
  type AbnormalRefundRecipient,
  applyAbnormalRefund,
  queryRefund,
  refund,
} from './service/refund-flow.ts';
import {
  applyRefundResult,
  listOrderRefunds,
  type StartRefundRequest,
  startRefund,
} from './service/refunds.ts';
import { listReviews, resolveReview } from './service/reviews.ts';
import {
  clearRouteShare,
  listRoutes,
  rollbackRoute,
  setRouteShare,
  type WithinShareChange,
  watchRouteChanges,
} from './service/route-overrides.ts';
import type { Route } from './service/routing.ts';
import { createFieldSealer, type SealingConfig } from './service/sealing.ts';
import {
  userAccountToken,
  type VerifyStorePurchaseRequest,
  verifyStorePurchase,
} from './service/store-purchases.ts';
import {
  cancelTransfer,
  decide,
  handleTransferNotify,
  queryTransfer,
  type TransferNotifyRequest,
  transfer,
} from './service/transfer-flow.ts';
import { DEFAULT_TRANSFERS, type TransferSettings } from './service/transfer-settings.ts';
import { type CreateTransferRequest, type TransferDecision, toTransfer } from './service/transfers.ts';
import { startWebhookWorker, type WebhookWorker } from './service/webhook-delivery.ts';
import {
  createEndpoint,
  type EndpointInput,
  getEndpoint,
  listEndpoints,
  rotateEndpointSecret,
  syncConfiguredEndpoints,
  updateEndpoint,
} from './service/webhook-endpoints.ts';
import {
  type EventFilter,
  getEvent,
  listEvents,
  pingEndpoint,
  replayEvent,
  replayFailed,
} from './service/webhook-ops.ts';
import {
  DEFAULT_WEBHOOKS,
  newInstanceId,
  openSecretBox,
  type SecretBox,
  type WebhookSettings,
} from './service/webhook-settings.ts';
import { openStore, type Store } from './store/db.ts';
import { listTransfers, type TransferListFilter } from './store/transfers.ts';

export interface VkPayOptions extends Partial<VkPayConfig> {
  /** A PostgreSQL schema to work in (tests give each run its own). */
  schema?: string;
  /** Prefix of every cache key in Redis. */
  cachePrefix?: string;
  logger?: Logger;
  now?: () => Date;
  /** The gateways to use, e.g. `[createWxpayProvider({ merchants })]`. */
  providers?: Provider[];
  /** The base URL gateways reach this service on, for notify URLs. */
  publicUrl?: string;
  /** Each merchant's routes (by merchant id): which gateway account takes a new payment. */
  routes?: Record<string, Route[]>;
  /** Encrypt these fields of `custom` at rest (AES-256-GCM, rotating keys). */
  sealing?: SealingConfig | null;
  /** Merchant webhooks: configured endpoints, the key sealing API-made secrets, retry time factor. */
  webhooks?: Partial<WebhookSettings>;
  /** Transfer limits (per transfer, per day), the approval threshold, per-merchant overrides. */
  transfers?: Partial<TransferSettings>;
  /**
   * Profit sharing: split rules by order type (a paid order of that type is created for splitting
   * and split by the background job) and the job's schedule.
   */
  profitSharing?: Partial<ProfitSharingSettings>;
  /** Payment codes: how long the buyer has to confirm, and how often the gateway is asked meanwhile. */
  micropay?: Partial<MicropaySettings>;
}

export interface VkPay {
  readonly config: VkPayConfig;
  readonly store: Store;
  readonly cache: Cache;
  readonly context: ServiceContext;
  /** Registers the business handler for an order type (recharge, goods, vip, custom, or your own). */
  onPaid(type: string, handler: BusinessHandler): VkPay;
  createOrder(request: CreateOrderRequest): ReturnType<typeof createOrder>;
  getOrder(merchantId: string, outTradeNo: string): ReturnType<typeof getOrder>;
  applyPaymentResult(result: PaymentResult): ReturnType<typeof applyPaymentResult>;
  startRefund(request: StartRefundRequest): ReturnType<typeof startRefund>;
  applyRefundResult(result: RefundResult): ReturnType<typeof applyRefundResult>;
  listRefunds(merchantId: string, outTradeNo: string): ReturnType<typeof listOrderRefunds>;
  /** Creates the order and its gateway payment; returns what the client needs for its scene. */
  pay(request: PayRequest): ReturnType<typeof pay>;
  /** An app store's transaction pays an order (or makes one for its product), once. */
  verifyStorePurchase(request: VerifyStorePurchaseRequest): ReturnType<typeof verifyStorePurchase>;
  /** The appAccountToken an app passes to StoreKit for one of the merchant's users. */
  storeAccountToken(merchantId: string, userId: string): string;
  /** The order, asking the gateway (and applying its answer) while it is unpaid. */
  queryPayment(
    merchantId: string,
    outTradeNo: string,
    options?: QueryOptions,
  ): ReturnType<typeof queryPayment>;
  /** `withClosed` runs in the transaction that closes the order here (an audit row). */
  closePayment(
    merchantId: string,
    outTradeNo: string,
    withClosed?: Parameters<typeof closePayment>[3],
  ): ReturnType<typeof closePayment>;
  /**
   * Reserves and requests a refund at the gateway; the same out_refund_no is the same refund.
   * `withReservation` runs in the transaction that reserves a new one (an audit row).
   */
  refund(
    request: StartRefundRequest,
    withReservation?: Parameters<typeof refund>[2],
  ): ReturnType<typeof refund>;
  /** `withApplied` runs in the transaction of a change the gateway's answer makes. */
  queryRefund(
    merchantId: string,
    outRefundNo: string,
    withApplied?: Parameters<typeof queryRefund>[3],
  ): ReturnType<typeof queryRefund>;
  /** Sends an ABNORMAL refund to a bank card instead (WeChat Pay's abnormal refund). */
  applyAbnormalRefund(
    merchantId: string,
    outRefundNo: string,
    recipient: AbnormalRefundRecipient,
  ): ReturnType<typeof applyAbnormalRefund>;
  /** Verifies a gateway callback from its raw bytes, applies it, and returns the answer to send back. */
  handleNotify(request: NotifyRequest): ReturnType<typeof handleNotify>;
  /**
   * A transfer to a buyer's wallet: reserved within the limits, held for approval above the
   * threshold, else sent. The same out_transfer_no is the same transfer, sent once.
   */
  transfer(
    request: CreateTransferRequest,
    withCreated?: Parameters<typeof transfer>[2],
  ): ReturnType<typeof transfer>;
  /** The transfer, asking the gateway (by its number) while the outcome is awaited. */
  queryTransfer(merchantId: string, outTransferNo: string): ReturnType<typeof queryTransfer>;
  /** Approves (and sends) or rejects a transfer awaiting approval; never by the one who asked for it. */
  decideTransfer(
    decision: TransferDecision,
    withDecision?: Parameters<typeof decide>[2],
  ): ReturnType<typeof decide>;
  /** Withdraws a transfer the buyer has not confirmed yet (WeChat Pay). */
  cancelTransfer(merchantId: string, outTransferNo: string): ReturnType<typeof cancelTransfer>;
  /** A merchant's transfers (null: every merchant's), newest first. */
  listTransfers(
    merchantIds: readonly string[] | null,
    filter?: TransferListFilter,
  ): Promise<ReturnType<typeof toTransfer>[]>;
  /** Verifies and applies a transfer notification; returns the answer to send back. */
  handleTransferNotify(request: TransferNotifyRequest): ReturnType<typeof handleTransferNotify>;
  /** Binds a profit-sharing receiver at the gateway (its name stored encrypted only). Idempotent. */
  addSplitReceiver(input: ReceiverInput): ReturnType<typeof addReceiver>;
  /** Unbinds a profit-sharing receiver. Idempotent. */
  removeSplitReceiver(input: Parameters<typeof removeReceiver>[1]): ReturnType<typeof removeReceiver>;
  /**
   * Splits a paid order created for profit sharing between receivers, within what is left to
   * split. The same out_split_no is the same split, sent once.
   */
  splitOrder(request: SplitRequestInput): ReturnType<typeof splitOrder>;
  /** The split, asking the gateway (by its number) while its outcome is awaited. */
  querySplit(merchantId: string, outSplitNo: string): ReturnType<typeof querySplit>;
  /** Gives what is left unsplit of an order back to the merchant; no more splits after it. */
  unfreezeOrder(request: Parameters<typeof unfreezeOrder>[1]): ReturnType<typeof unfreezeOrder>;
  /** Takes (part of) a split back from a receiver (WeChat Pay). */
  returnSplit(request: ReturnRequestInput): ReturnType<typeof returnSplit>;
  queryReturn(merchantId: string, outReturnNo: string): ReturnType<typeof queryReturn>;
  /** An order's splits, returns, and what is left to split. */
  orderSplits(merchantId: string, outTradeNo: string): ReturnType<typeof orderSplits>;
  /** Verifies and applies a split notification; returns the answer to send back. */
  handleSplitNotify(request: SplitNotifyRequest): ReturnType<typeof handleSplitNotify>;
  /**
   * Matches the gateway's trade bill of one China date (YYYY-MM-DD) of each of the merchant's
   * accounts (or of `account` alone) with the orders and refunds that account took.
   */
  reconcile(
    provider: string,
    merchantId: string,
    date: string,
    account?: string,
  ): ReturnType<typeof reconcileTradeBill>;
  /** Each reconciled (or failed) bill day, newest first: what reconciliation found. */
  listReconciledDays(
    filter?: Parameters<typeof listReconciledDays>[1],
  ): ReturnType<typeof listReconciledDays>;
  /** Cases a person must settle (money the order could not take, refunds the gateway could not finish). */
  /**
   * Sends every new payment of a route to its stable account on every instance, then closes the
   * canary side's unpaid orders at their gateway; a close that fails opens a review.
   */
  rollbackRoute(
    merchantId: string,
    routeId: string,
    changedBy: string,
    within?: WithinShareChange,
  ): ReturnType<typeof rollbackRoute>;
  /** The merchant's routes as configured, each with the share in force (stored, else the file's). */
  listRoutes(merchantId: string): ReturnType<typeof listRoutes>;
  /**
   * Stores a route's share (percent of payers on its canary account) over the file's on every
   * instance and records who changed it; orders already made keep their account.
   */
  setRouteShare(
    merchantId: string,
    routeId: string,
    share: number,
    changedBy: string,
    /** More writes in the change's transaction (the console's audit row). */
    within?: WithinShareChange,
  ): ReturnType<typeof setRouteShare>;
  /** Removes a route's stored share: the config file's is in force again on every instance; recorded like a set. */
  clearRouteShare(merchantId: string, routeId: string, changedBy: string): ReturnType<typeof clearRouteShare>;
  listReviews(
    merchantId: string,
    options?: Parameters<typeof listReviews>[2],
  ): ReturnType<typeof listReviews>;
  /** Closes a review with what was done. */
  resolveReview(merchantId: string, id: number, note: string): ReturnType<typeof resolveReview>;
  /** Webhook endpoints, events, replays and pings of one merchant. */
  createWebhookEndpoint(merchantId: string, input: EndpointInput): ReturnType<typeof createEndpoint>;
  listWebhookEndpoints(merchantId: string): ReturnType<typeof listEndpoints>;
  getWebhookEndpoint(merchantId: string, id: string): ReturnType<typeof getEndpoint>;
  updateWebhookEndpoint(
    merchantId: string,
    id: string,
    input: EndpointInput,
  ): ReturnType<typeof updateEndpoint>;
  /** Disables an endpoint: what it still had to receive is cancelled (replay brings it back). */
  disableWebhookEndpoint(merchantId: string, id: string): ReturnType<typeof updateEndpoint>;
  /** A new secret; the old one keeps signing beside it for graceSeconds (default a day). */
  rotateWebhookSecret(
    merchantId: string,
    id: string,
    graceSeconds?: number,
  ): ReturnType<typeof rotateEndpointSecret>;
  pingWebhookEndpoint(merchantId: string, id: string): ReturnType<typeof pingEndpoint>;
  listWebhookEvents(merchantId: string, filter?: EventFilter): ReturnType<typeof listEvents>;
  getWebhookEvent(merchantId: string, eventId: string): ReturnType<typeof getEvent>;
  replayWebhookEvent(
    merchantId: string,
    eventId: string,
    endpointId?: string,
  ): ReturnType<typeof replayEvent>;
  replayFailedWebhooks(
    merchantId: string,
    range: Parameters<typeof replayFailed>[2],
  ): ReturnType<typeof replayFailed>;
  /**
   * Starts this process's webhook delivery worker (`vk-pay serve` does). Returns it; close() stops
   * it. Any number of processes may run one on the same database.
   */
  startWebhookDelivery(): WebhookWorker;
  close(): Promise<void>;
}

export async function createVkPay(options: VkPayOptions = {}): Promise<VkPay> {
  const {
    schema,
    cachePrefix,
    logger: givenLogger,
    now,
    providers = [],
    publicUrl,
    routes,
    sealing,
    webhooks,
    transfers,
    profitSharing,
    micropay,
    ...overrides
  } = options;
  const config: VkPayConfig = { ...DEFAULT_CONFIG, ...overrides };
  const logger = givenLogger ?? pino({ level: config.logLevel, base: { service: 'vk-pay' } });
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    pool: config.pool,
    schema,
  });
  const webhookSettings: WebhookSettings = {
    ...DEFAULT_WEBHOOKS,
    httpsOnly: config.env === 'production',
    ...webhooks,
  };
  if (config.env === 'production' && !webhookSettings.secretKey) {
    await store.close();
    throw new Error('webhooks.secretKey is required in production (it seals webhook endpoint secrets)');
  }
  let cache: Cache;
  let box: SecretBox;
  try {
    box = await openSecretBox(store.db, webhookSettings);
    cache = await openCache({ redisUrl: config.redisUrl, ...(cachePrefix ? { prefix: cachePrefix } : {}) });
  } catch (error) {
    await store.close();
    throw error;
  }
  let worker: WebhookWorker | null = null;
  const handlers = new HandlerRegistry();
  const context: ServiceContext = {
    store,
    cache,
    handlers,
    logger,
    now: now ?? (() => new Date()),
    rules: {
      maxFen: config.maxFen,
      providers: PROVIDERS,
      scenes: SCENES,
      maxCustomBytes: config.maxCustomBytes,
    },
    resultCacheTtlMs: config.resultCacheTtlMs,
    orderExpireMs: config.orderExpireMs,
    gatewayObservers: [],
    sealer: sealing ? createFieldSealer(sealing) : null,
    providers: new Map(providers.map((provider) => [provider.name, provider])),
    routes: new Map(Object.entries(routes ?? {})),
    publicUrl: publicUrl ?? 'http://127.0.0.1:3000',
    webhooks: {
      settings: webhookSettings,
      box,
      configuredSecrets: new Map(),
      instanceId: newInstanceId(),
      wake: () => worker?.wake(),
    },
    transfers: {
      ...DEFAULT_TRANSFERS,
      ...transfers,
      merchants: { ...transfers?.merchants },
      sync: { ...DEFAULT_TRANSFERS.sync, ...transfers?.sync },
    },
    profitSharing: {
      rules: { ...DEFAULT_PROFIT_SHARING.rules, ...profitSharing?.rules },
      sync: { ...DEFAULT_PROFIT_SHARING.sync, ...profitSharing?.sync },
    },
    ...(micropay ? { micropay } : {}),
  };
  let unwatchRoutes: () => void = () => {};
  try {
    await syncConfiguredEndpoints(context);
    unwatchRoutes = await watchRouteChanges(context);
  } catch (error) {
    await cache.close();
    await store.close();
    throw error;
  }
  const vkPay: VkPay = {
    config,
    store,
    cache,
    context,
    onPaid(type, handler) {
      handlers.register(type, handler);
      return vkPay;
    },
    createOrder: (request) => createOrder(context, request),
    getOrder: (merchantId, outTradeNo) => getOrder(context, merchantId, outTradeNo),
    applyPaymentResult: (result) => applyPaymentResult(context, result),
    startRefund: (request) => startRefund(context, request),
    applyRefundResult: (result) => applyRefundResult(context, result),
    pay: (request) => pay(context, request),
    verifyStorePurchase: (request) => verifyStorePurchase(context, request),
    storeAccountToken: (merchantId, userId) => userAccountToken(merchantId, userId),
    queryPayment: (merchantId, outTradeNo, queryOptions) =>
      queryPayment(context, merchantId, outTradeNo, queryOptions),
    closePayment: (merchantId, outTradeNo, withClosed) =>
      closePayment(context, merchantId, outTradeNo, withClosed),
    refund: (request, withReservation) => refund(context, request, withReservation),
    queryRefund: (merchantId, outRefundNo, withApplied) =>
      queryRefund(context, merchantId, outRefundNo, withApplied),
    applyAbnormalRefund: (merchantId, outRefundNo, recipient) =>
      applyAbnormalRefund(context, merchantId, outRefundNo, recipient),
    handleNotify: (request) => handleNotify(context, request),
    transfer: (request, withCreated) => transfer(context, request, withCreated),
    queryTransfer: (merchantId, outTransferNo) => queryTransfer(context, merchantId, outTransferNo),
    decideTransfer: (decision, withDecision) => decide(context, decision, withDecision),
    cancelTransfer: (merchantId, outTransferNo) => cancelTransfer(context, merchantId, outTransferNo),
    listTransfers: async (merchantIds, filter = {}) =>
      (await listTransfers(store.db, merchantIds, filter)).map(toTransfer),
    handleTransferNotify: (request) => handleTransferNotify(context, request),
    addSplitReceiver: (input) => addReceiver(context, input),
    removeSplitReceiver: (input) => removeReceiver(context, input),
    splitOrder: (request) => splitOrder(context, request),
    querySplit: (merchantId, outSplitNo) => querySplit(context, merchantId, outSplitNo),
    unfreezeOrder: (request) => unfreezeOrder(context, request),
    returnSplit: (request) => returnSplit(context, request),
    queryReturn: (merchantId, outReturnNo) => queryReturn(context, merchantId, outReturnNo),
    orderSplits: (merchantId, outTradeNo) => orderSplits(context, merchantId, outTradeNo),
    handleSplitNotify: (request) => handleSplitNotify(context, request),
    reconcile: (provider, merchantId, date, account) =>
      reconcileTradeBill(context, provider, merchantId, date, account),
    listReconciledDays: (filter) => listReconciledDays(context, filter),
    rollbackRoute: (merchantId, routeId, changedBy, within) =>
      rollbackRoute(context, merchantId, routeId, changedBy, within),
    listRoutes: (merchantId) => listRoutes(context, merchantId),
    setRouteShare: (merchantId, routeId, share, changedBy, within) =>
      setRouteShare(context, merchantId, routeId, share, changedBy, within),
    clearRouteShare: (merchantId, routeId, changedBy) =>
      clearRouteShare(context, merchantId, routeId, changedBy),
    listReviews: (merchantId, reviewOptions) => listReviews(context, merchantId, reviewOptions),
    resolveReview: (merchantId, id, note) => resolveReview(context, merchantId, id, note),
    listRefunds: async (merchantId, outTradeNo) =>
      listOrderRefunds(context, await getOrder(context, merchantId, outTradeNo)),
    createWebhookEndpoint: (merchantId, input) => createEndpoint(context, merchantId, input),
    listWebhookEndpoints: (merchantId) => listEndpoints(context, merchantId),
    getWebhookEndpoint: (merchantId, id) => getEndpoint(context, merchantId, id),
    updateWebhookEndpoint: (merchantId, id, input) => updateEndpoint(context, merchantId, id, input),
    disableWebhookEndpoint: (merchantId, id) => updateEndpoint(context, merchantId, id, { enabled: false }),
    rotateWebhookSecret: (merchantId, id, graceSeconds) =>
      rotateEndpointSecret(context, merchantId, id, graceSeconds),
    pingWebhookEndpoint: (merchantId, id) => pingEndpoint(context, merchantId, id),
    listWebhookEvents: (merchantId, filter) => listEvents(context, merchantId, filter),
    getWebhookEvent: (merchantId, eventId) => getEvent(context, merchantId, eventId),
    replayWebhookEvent: (merchantId, eventId, endpointId) =>
      replayEvent(context, merchantId, eventId, endpointId),
    replayFailedWebhooks: (merchantId, range) => replayFailed(context, merchantId, range),
    startWebhookDelivery() {
      worker ??= startWebhookWorker(context);
      return worker;
    },
    async close() {
      const running = worker;
      worker = null;
      await running?.stop();
      unwatchRoutes();
      await cache.close();
      await store.close();
    },
  };
  return vkPay;
}
