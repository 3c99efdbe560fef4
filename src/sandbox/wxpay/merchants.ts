/**
 * Registered merchants: who may call the emulator, with which key, and which gateway keys
 * sign what they receive. Platform certificates are shared by all merchants, as at WeChat;
 * the WeChat Pay public key is per merchant. A rotated platform certificate is published (listed
 * by /v3/certificates) at once but signs only from its switch, five days later by default, as
 * WeChat publishes a new certificate ten days before the old one expires and signs with it from
 * five days before.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createPublicKeySigningKey,
  type GatewaySigningKey,
  type PlatformCertificate,
  TestCertificateAuthority,
} from './gateway-keys.ts';
import { formatChinaTime, type SandboxRuntime } from './runtime.ts';
import { invalidField, missingField } from './wire-errors.ts';

export type KeyMode = 'publicKey' | 'certificate' | 'both';

/** Gateway time from publishing a rotated platform certificate to signing with it. */
export const CERTIFICATE_SWITCH_DELAY_MS = 5 * 86_400_000;

/** A platform certificate as the gateway holds it: listed from publication, signing from `signsFrom`. */
export interface PublishedCertificate extends PlatformCertificate {
  /** Gateway time from which responses and notifications are signed with it. */
  signsFrom: number;
}
export const KEY_MODES: readonly KeyMode[] = ['publicKey', 'certificate', 'both'];

export interface MerchantRegistration {
  mchid: string;
  /** One appid or several; prepay requests must use one of them. */
  appid?: string;
  appids?: string[];
  apiV3Key: string;
  /** Serial of the merchant API certificate, as sent in `serial_no`. */
  merchantSerialNo: string;
  /** The merchant API public key (SPKI PEM) or its certificate PEM. */
  merchantPublicKeyPem: string;
  keyMode: KeyMode;
  /** In 'both' mode, the share of notifications signed with the public key (default 0.5). */
  publicKeyNotificationShare?: number;
  /** Gateway milliseconds (scaled by timeFactor) after which a PROCESSING refund succeeds; null = never. */
  refundAutoSucceedMs?: number | null;
  /** WeChat's minute between refunds of one order (default true); false for tests of many quick refunds. */
  refundSpacing?: boolean;
  /** Where PROFITSHARING.* notifications go (set on the merchant platform at WeChat). */
  profitSharingNotifyUrl?: string;
}

export interface Merchant {
  mchid: string;
  appids: Set<string>;
  apiV3Key: string;
  merchantSerialNo: string;
  merchantPublicKey: KeyObject;
  keyMode: KeyMode;
  publicKey: GatewaySigningKey | undefined;
  publicKeyNotificationShare: number;
  refundAutoSucceedMs: number | null;
  refundSpacing: boolean;
  profitSharingNotifyUrl?: string;
}

/** What a merchant needs to verify the gateway, returned by registration. */
export interface MerchantCredentials {
  mchid: string;
  keyMode: KeyMode;
  publicKeyId?: string;
  publicKeyPem?: string;
  platformCertificates?: Array<{
    serialNo: string;
    certificatePem: string;
    publicKeyPem: string;
    /** When it starts signing (RFC 3339, gateway time). */
    signsFrom: string;
  }>;
  caCertificatePem?: string;
}

function requireText(value: unknown, field: string): string {
  if (value === undefined || value === null || value === '') throw missingField(field);
  if (typeof value !== 'string') throw invalidField(field, value, '类型错误，应为字符串');
  return value;
}

export class MerchantRegistry {
  private readonly merchants = new Map<string, Merchant>();
  private authority: Promise<TestCertificateAuthority> | undefined;
  /** The CA once created, for the state file. */
  private createdAuthority: TestCertificateAuthority | undefined;
  private certificates: PublishedCertificate[] = [];

  constructor(private readonly runtime: SandboxRuntime) {}

  get(mchid: string): Merchant | undefined {
    return this.merchants.get(mchid);
  }

  all(): Merchant[] {
    return [...this.merchants.values()];
  }

  /** The test CA, if one was made. */
  existingAuthority(): TestCertificateAuthority | undefined {
    return this.createdAuthority;
  }

  /** Takes back what the state file kept. */
  restore(
    merchants: Merchant[],
    certificates: PublishedCertificate[],
    authority?: TestCertificateAuthority,
  ): void {
    for (const merchant of merchants) this.merchants.set(merchant.mchid, merchant);
    this.certificates = [...certificates];
    if (authority) {
      this.createdAuthority = authority;
      this.authority = Promise.resolve(authority);
    }
  }

  /** Published platform certificates, newest last; issued on first use by a certificate-mode merchant. */
  platformCertificates(): readonly PublishedCertificate[] {
    return this.certificates;
  }

  /** The newest certificate whose switch has come: the one that signs now. */
  signingCertificate(): PublishedCertificate | undefined {
    const now = this.runtime.clock.now();
    return this.certificates.findLast((certificate) => certificate.signsFrom <= now) ?? this.certificates[0];
  }

  async caCertificatePem(): Promise<string> {
    return (await this.certificateAuthority()).certificatePem;
  }

  /**
   * Publishes a new platform certificate that signs from `switchAfterMs` of gateway time later
   * (0: at once); older ones stay listed. Validity is dated in wall time, the merchant's clock.
   */
  async rotatePlatformCertificate(
    switchAfterMs = CERTIFICATE_SWITCH_DELAY_MS,
  ): Promise<PublishedCertificate> {
    const authority = await this.certificateAuthority();
    const certificate = await authority.issuePlatformCertificate(
      this.runtime.random,
      new Date(this.runtime.clock.wall.now()),
    );
    // Whole seconds, so that the RFC 3339 time the control API shows is the instant itself.
    const signsFrom = Math.floor((this.runtime.clock.now() + switchAfterMs) / 1000) * 1000;
    const published = { ...certificate, signsFrom };
    this.certificates.push(published);
    return published;
  }

  async register(input: MerchantRegistration): Promise<MerchantCredentials> {
    const mchid = requireText(input.mchid, 'mchid');
    const apiV3Key = requireText(input.apiV3Key, 'apiV3Key');
    if (Buffer.byteLength(apiV3Key, 'utf8') !== 32)
      throw invalidField('apiV3Key', '***', 'APIv3密钥必须为32字节');
    const merchantSerialNo = requireText(input.merchantSerialNo, 'merchantSerialNo').toUpperCase();
    let merchantPublicKey: KeyObject;
    try {
      merchantPublicKey = createPublicKey(requireText(input.merchantPublicKeyPem, 'merchantPublicKeyPem'));
    } catch (error) {
      throw invalidField('merchantPublicKeyPem', '(pem)', `无法解析商户公钥: ${(error as Error).message}`);
    }
    if (!KEY_MODES.includes(input.keyMode))
      throw invalidField('keyMode', input.keyMode, '取值应为 publicKey|certificate|both');
    const appids = new Set([...(input.appids ?? []), ...(input.appid ? [input.appid] : [])]);
    if (appids.size === 0) throw missingField('appid');
    const share = input.publicKeyNotificationShare ?? 0.5;
    if (!(share >= 0 && share <= 1))
      throw invalidField('publicKeyNotificationShare', share, '取值应在0到1之间');
    const profitSharingNotifyUrl = input.profitSharingNotifyUrl;
    if (profitSharingNotifyUrl !== undefined && !/^https?:\/\/[^?#\s]+$/.test(profitSharingNotifyUrl))
      throw invalidField('profitSharingNotifyUrl', profitSharingNotifyUrl, '应为不带参数的URL');

    const previous = this.merchants.get(mchid);
    const publicKey =
      input.keyMode === 'certificate'
        ? undefined
        : (previous?.publicKey ?? createPublicKeySigningKey(mchid, this.runtime.random));
    if (input.keyMode !== 'publicKey' && this.certificates.length === 0)
      await this.rotatePlatformCertificate(0);
    this.merchants.set(mchid, {
      mchid,
      appids,
      apiV3Key,
      merchantSerialNo,
      merchantPublicKey,
      keyMode: input.keyMode,
      publicKey,
      publicKeyNotificationShare: share,
      refundAutoSucceedMs: input.refundAutoSucceedMs ?? null,
      refundSpacing: input.refundSpacing !== false,
      ...(profitSharingNotifyUrl ? { profitSharingNotifyUrl } : {}),
    });
    return this.credentials(mchid);
  }

  async credentials(mchid: string): Promise<MerchantCredentials> {
    const merchant = this.merchants.get(mchid);
    if (!merchant) throw invalidField('mchid', mchid, '商户未注册');
    const credentials: MerchantCredentials = { mchid, keyMode: merchant.keyMode };
    if (merchant.publicKey) {
      credentials.publicKeyId = merchant.publicKey.serial;
      credentials.publicKeyPem = merchant.publicKey.publicKeyPem;
    }
    if (merchant.keyMode !== 'publicKey') {
      credentials.platformCertificates = this.certificates.map((certificate) => ({
        serialNo: certificate.serial,
        certificatePem: certificate.certificatePem,
        publicKeyPem: certificate.publicKeyPem,
        signsFrom: formatChinaTime(certificate.signsFrom),
      }));
      credentials.caCertificatePem = await this.caCertificatePem();
    }
    return credentials;
  }

  /**
   * The key that signs an API response. In 'both' (migration) mode WeChat follows the
   * Wechatpay-Serial the merchant sent; without one we keep the platform certificate, the
   * mode the merchant is migrating from.
   */
  responseSigningKey(merchant: Merchant, requestedSerial: string | undefined): GatewaySigningKey {
    const certificate = this.signingCertificate();
    if (merchant.keyMode === 'publicKey' || !certificate) return merchant.publicKey!;
    if (merchant.keyMode === 'both' && requestedSerial === merchant.publicKey?.serial)
      return merchant.publicKey!;
    return certificate;
  }

  /**
   * The private key of the platform key a request's Wechatpay-Serial names, for decrypting its
   * sensitive fields: the merchant's public key id, or a platform certificate serial.
   */
  decryptionKey(merchant: Merchant, serial: string | undefined): GatewaySigningKey | undefined {
    if (!serial) return undefined;
    if (merchant.publicKey?.serial === serial) return merchant.publicKey;
    if (merchant.keyMode === 'publicKey') return undefined;
    return this.certificates.find((certificate) => certificate.serial.toUpperCase() === serial.toUpperCase());
  }

  /** In 'both' mode notifications are mixed at random, as WeChat does during the migration week. */
  notificationSigningKey(merchant: Merchant): GatewaySigningKey {
    if (merchant.keyMode !== 'both') return this.responseSigningKey(merchant, undefined);
    const draw = (this.runtime.random(1)[0] ?? 0) / 256;
    return draw < merchant.publicKeyNotificationShare ? merchant.publicKey! : this.signingCertificate()!;
  }

  private certificateAuthority(): Promise<TestCertificateAuthority> {
    this.authority ??= TestCertificateAuthority.create(
      this.runtime.random,
      new Date(this.runtime.clock.wall.now()),
    ).then((authority) => {
      this.createdAuthority = authority;
      return authority;
    });
    return this.authority;
  }
}
