/**
 * The WeChat Pay APIv3 provider: one signed transport and verifier key store per merchant, and one
 * small mapping per operation behind the Provider interface.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fetch as undiciFetch } from 'undici';
import { PayError } from '../../core/errors.ts';
import { AccountContexts, accountOf } from '../merchant-lookup.ts';
import { guardedObserver } from '../network.ts';
import type { Provider } from '../provider.ts';
import { downloadPlatformCertificates } from './certificates.ts';
import { appIdFor, resolveMerchant, type WxpayMerchantConfig } from './config.ts';
import type { WxpayContext } from './context.ts';
import { wxpayAccountFacts } from './facts.ts';
import { parsePlatformCertificate, VerifierKeyStore } from './keys.ts';
import { ackNotify, parseNotify } from './notify.ts';
import { applyAbnormalRefund } from './operations/abnormal-refund.ts';
import { downloadTradeBill } from './operations/bill.ts';
import { closePayment } from './operations/close.ts';
import { createCodepay, reverseCodepay } from './operations/codepay.ts';
import { createPayment, wxpayScene } from './operations/prepay.ts';
import { wxpayProfitSharingOperations } from './operations/profit-sharing.ts';
import { queryPayment } from './operations/query.ts';
import { refund } from './operations/refund.ts';
import { queryRefund } from './operations/refund-query.ts';
import { wxpayTransferOperations } from './operations/transfer.ts';
import {
  isSubMerchantConfig,
  partnerAppIdFor,
  resolvePartner,
  resolveServiceProvider,
  type WxpayServiceProviderConfig,
  type WxpaySubMerchantConfig,
} from './partner.ts';
import { type FetchLike, type WxpayRequestEvent, WxpayTransport } from './transport.ts';
import { createV2Context, v2AccountFacts } from './v2/account.ts';
import { isV2Config, type WxpayV2MerchantConfig } from './v2/config.ts';
import { reversePaymentV2 } from './v2/micropay.ts';
import { ackNotifyV2, parseNotifyV2 } from './v2/notify.ts';
import {
  closePaymentV2,
  createPaymentV2,
  downloadTradeBillV2,
  queryPaymentV2,
  queryRefundV2,
  refundV2,
  sceneAppIdV2,
  type WxpayV2Context,
} from './v2/operations.ts';

export type { WxpayMerchantConfig, WxpayScene } from './config.ts';
export type { WxpayServiceProviderConfig, WxpaySubMerchantConfig } from './partner.ts';
export type { FetchLike, WxpayRequestEvent } from './transport.ts';
export type { WxpayV2MerchantConfig } from './v2/config.ts';

/**
 * An account on APIv3, or on APIv2 when it says `apiVersion: 'v2'`, or a sub-merchant of a
 * service provider when it names `serviceProvider`.
 */
export type WxpayAccountConfig = WxpayMerchantConfig | WxpayV2MerchantConfig | WxpaySubMerchantConfig;

/** An account's context: APIv3's, or APIv2's behind the same provider. */
type AccountEntry = { version: 'v3'; context: WxpayContext } | { version: 'v2'; context: WxpayV2Context };

function notOnV2(operation: string, merchantId: string): PayError {
  return new PayError(40001, {
    field: 'account',
    message: `wxpay merchant ${merchantId}: ${operation} is not available on an APIv2 account`,
  });
}

export interface WxpayProviderOptions {
  merchants: WxpayAccountConfig[];
  /** Service providers (服务商) whose keys their sub-merchants in `merchants` share. */
  serviceProviders?: WxpayServiceProviderConfig[];
  /** Replaces the HTTP client (tests, proxies); defaults to undici's fetch. */
  fetch?: FetchLike;
  /** An undici Dispatcher (Agent, ProxyAgent, MockAgent) for the default fetch. */
  dispatcher?: unknown;
  /** Clock in milliseconds, for signatures, freshness checks and certificate refresh. */
  now?: () => number;
  /** Backoff sleep; tests pass a fast one. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Called once per HTTP attempt (payment_logs, metrics); never receives bodies or secrets. */
  onRequest?: (event: WxpayRequestEvent) => void;
  userAgent?: string;
  /** Least time between certificate downloads caused by an unknown Wechatpay-Serial. */
  unknownSerialCooldownMs?: number;
}

export interface WxpayProvider extends Provider {
  readonly name: 'wxpay';
  /** Downloads a merchant account's platform certificates now (startup warm-up, admin action). */
  refreshCertificates(merchantId: string, account?: string): Promise<void>;
}

export function createWxpayProvider(options: WxpayProviderOptions): WxpayProvider {
  const now = options.now ?? Date.now;
  const entries = new AccountContexts<AccountEntry>('wxpay');
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const v3Context = (
    merchant: ReturnType<typeof resolveMerchant>,
    sharedKeys?: VerifierKeyStore,
  ): WxpayContext => {
    const transport = new WxpayTransport({
      merchant,
      // Assigned below: the key store and the transport need each other (downloads are signed requests).
      keys: { keyFor: (serial) => keys.keyFor(serial), preferredSerial: () => keys.preferredSerial() },
      fetch: options.fetch ?? (undiciFetch as unknown as FetchLike),
      dispatcher: options.dispatcher,
      now,
      sleep,
      random: options.random ?? Math.random,
      onRequest: guardedObserver(options.onRequest),
      userAgent: options.userAgent ?? 'vk-pay/0.1 (wxpay; node)',
    });
    const keys: VerifierKeyStore =
      sharedKeys ??
      new VerifierKeyStore({
        merchantId: merchant.merchantId,
        publicKey: merchant.publicKey,
        certificates: merchant.certificatePems.map((pem) => parsePlatformCertificate(pem)),
        download: merchant.downloadCertificates
          ? () => downloadPlatformCertificates(transport, merchant, now)
          : null,
        now,
        refreshMs: merchant.certificateRefreshMs,
        ...(options.unknownSerialCooldownMs !== undefined
          ? { unknownSerialCooldownMs: options.unknownSerialCooldownMs }
          : {}),
      });
    return { merchant, transport, keys, now };
  };
  // A service provider's keys and verifier key store (one certificate download) serve all its sub-merchants.
  const serviceProviders = new Map<string, WxpayContext>();
  for (const config of options.serviceProviders ?? []) {
    const context = v3Context(resolveServiceProvider(config));
    if (serviceProviders.has(context.merchant.merchantId))
      throw new PayError(40003, {
        field: 'id',
        message: `wxpay service provider ${context.merchant.merchantId} is configured twice`,
      });
    serviceProviders.set(context.merchant.merchantId, context);
  }
  for (const config of options.merchants) {
    if (isSubMerchantConfig(config)) {
      const provider = serviceProviders.get(config.serviceProvider);
      const partner = resolvePartner(config, provider?.merchant);
      const account = accountOf('wxpay', config.merchantId, config.account);
      // The service provider's keys under the sub-merchant's name, so logs and results are its own.
      const context = v3Context({ ...provider!.merchant, merchantId: config.merchantId }, provider!.keys);
      entries.add(config.merchantId, account, { version: 'v3', context: { ...context, partner } });
      continue;
    }
    if (isV2Config(config)) {
      const context = createV2Context(config, {
        fetch: options.fetch ?? (undiciFetch as unknown as FetchLike),
        dispatcher: options.dispatcher,
        now,
        sleep,
        random: options.random ?? Math.random,
        onRequest: guardedObserver(options.onRequest),
        userAgent: options.userAgent ?? 'vk-pay/0.1 (wxpay; node)',
      });
      entries.add(context.merchant.merchantId, accountOf('wxpay', config.merchantId, config.account), {
        version: 'v2',
        context,
      });
      continue;
    }
    const merchant = resolveMerchant(config);
    const account = accountOf('wxpay', merchant.merchantId, config.account);
    entries.add(merchant.merchantId, account, { version: 'v3', context: v3Context(merchant) });
  }

  const entryFor = (merchantId: string, account?: string) => entries.get(merchantId, account);
  /** The APIv3 context of an account; 40001 for an APIv2 one, which has no such operation. */
  const contextFor = (merchantId: string, account: string | undefined, operation: string) => {
    const entry = entryFor(merchantId, account);
    if (entry.version === 'v2') throw notOnV2(operation, merchantId);
    return entry.context;
  };

  return {
    name: 'wxpay',
    identity: (merchantId, scene, account) => {
      const entry = entryFor(merchantId, account);
      if (entry.version === 'v2')
        return {
          mchId: entry.context.merchant.mchId,
          appId: sceneAppIdV2(entry.context.merchant, scene),
        };
      const { merchant, partner } = entry.context;
      // A sub-merchant's orders are bound to its sub_mchid: no other sub-merchant's result settles them.
      if (partner)
        return {
          mchId: partner.subMchId,
          // A payment code is paid into the sub-merchant's sub_appid, else the service provider's sp_appid.
          appId:
            scene === 'micropay'
              ? (partner.subAppId ?? merchant.appId)
              : partnerAppIdFor(merchant, partner, wxpayScene(scene)),
        };
      return {
        mchId: merchant.mchId,
        // A payment code is paid to the account's own app id.
        appId: scene === 'micropay' ? merchant.appId : appIdFor(merchant, wxpayScene(scene)),
      };
    },
    createPayment: async (order) => {
      const entry = entryFor(order.merchantId, order.account);
      if (entry.version === 'v2') return createPaymentV2(entry.context, order);
      return order.scene === 'micropay'
        ? createCodepay(entry.context, order)
        : createPayment(entry.context, order);
    },
    queryPayment: async (query) => {
      const entry = entryFor(query.merchantId, query.account);
      return entry.version === 'v2'
        ? queryPaymentV2(entry.context, query)
        : queryPayment(entry.context, query);
    },
    closePayment: async (query) => {
      const entry = entryFor(query.merchantId, query.account);
      return entry.version === 'v2'
        ? closePaymentV2(entry.context, query)
        : closePayment(entry.context, query);
    },
    // Payment codes: APIv3's reverse, APIv2's /secapi/pay/reverse.
    reversePayment: async (query) => {
      const entry = entryFor(query.merchantId, query.account);
      return entry.version === 'v2'
        ? reversePaymentV2(entry.context, query)
        : reverseCodepay(contextFor(query.merchantId, query.account, 'reverse'), query);
    },
    refund: async (request) => {
      const entry = entryFor(request.merchantId, request.account);
      return entry.version === 'v2' ? refundV2(entry.context, request) : refund(entry.context, request);
    },
    queryRefund: async (query) => {
      const entry = entryFor(query.merchantId, query.account);
      return entry.version === 'v2' ? queryRefundV2(entry.context, query) : queryRefund(entry.context, query);
    },
    parseNotify: async (merchantId, headers, rawBody, account) => {
      const entry = entryFor(merchantId, account);
      return entry.version === 'v2'
        ? parseNotifyV2(entry.context, rawBody)
        : parseNotify(entry.context, headers, rawBody);
    },
    // APIv2 accounts are answered in XML; every other answer (no account known yet) in v3's JSON.
    ackNotify: (answer, error, target) =>
      target &&
      entries.has(target.merchantId, target.account) &&
      entryFor(target.merchantId, target.account).version === 'v2'
        ? ackNotifyV2(answer, error)
        : ackNotify(answer, error),
    applyAbnormalRefund: async (request) =>
      applyAbnormalRefund(contextFor(request.merchantId, request.account, 'applyAbnormalRefund'), request),
    downloadTradeBill: async (merchantId, date, account) => {
      const entry = entryFor(merchantId, account);
      return entry.version === 'v2'
        ? downloadTradeBillV2(entry.context, date)
        : downloadTradeBill(entry.context, date);
    },
    // WeChat Pay keeps trade bills for three months.
    billWindowDays: 90,
    merchantIds: () => entries.merchantIds(),
    accounts: (merchantId) => entries.accounts(merchantId),
    accountFacts: (merchantId) =>
      entries.accounts(merchantId).map((account) => {
        const entry = entryFor(merchantId, account);
        return entry.version === 'v2'
          ? v2AccountFacts(account, entry.context)
          : wxpayAccountFacts(account, entry.context);
      }),
    transfers: wxpayTransferOperations((merchantId, account) => contextFor(merchantId, account, 'transfer')),
    profitSharing: wxpayProfitSharingOperations((merchantId, account) =>
      contextFor(merchantId, account, 'profit sharing'),
    ),
    refreshCertificates: async (merchantId, account) => {
      const entry = entryFor(merchantId, account);
      // APIv2 answers are verified with the API key: no platform certificates to download.
      if (entry.version === 'v3') await entry.context.keys.refresh();
    },
  };
}
