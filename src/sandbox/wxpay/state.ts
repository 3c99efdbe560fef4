/**
 * The WeChat Pay emulator's state as JSON, for its state file: merchants (with the gateway's keys
 * for them), the test CA and platform certificates, trades, refunds and the clock's offset. Keys
 * are PEM. Notifications in flight, faults and bill links are not kept: after a restart a merchant
 * queries what it missed, as it would after lost notifications. Of a bank card given for an
 * abnormal refund only the last four digits are written down.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { WxpayGateway } from './gateway.ts';
import { type AuthorityState, type GatewaySigningKey, TestCertificateAuthority } from './gateway-keys.ts';
import type { KeyMode, Merchant, PublishedCertificate } from './merchants.ts';
import type { Refund } from './refunds.ts';
import type { SubMerchantState } from './sub-merchants.ts';
import type { Trade } from './trades.ts';

interface SigningKeyState {
  serial: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

interface CertificateState extends SigningKeyState {
  certificatePem: string;
  notBefore: string;
  notAfter: string;
  signsFrom: number;
}

interface MerchantState {
  mchid: string;
  appids: string[];
  apiV3Key: string;
  merchantSerialNo: string;
  merchantPublicKeyPem: string;
  keyMode: KeyMode;
  publicKey?: SigningKeyState;
  publicKeyNotificationShare: number;
  refundAutoSucceedMs: number | null;
  refundSpacing: boolean;
  profitSharingNotifyUrl?: string;
}

export interface WxpayState {
  version: 1;
  clockOffsetMs: number;
  authority?: AuthorityState;
  certificates: CertificateState[];
  merchants: MerchantState[];
  trades: Trade[];
  refunds: Refund[];
  /** Sub-merchants of service providers; absent in files written before partner mode. */
  subMerchants?: SubMerchantState[];
}

const keyState = (key: GatewaySigningKey): SigningKeyState => ({
  serial: key.serial,
  privateKeyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  publicKeyPem: key.publicKeyPem,
});

const signingKey = (kind: GatewaySigningKey['kind'], state: SigningKeyState): GatewaySigningKey => ({
  kind,
  serial: state.serial,
  privateKey: createPrivateKey(state.privateKeyPem),
  publicKeyPem: state.publicKeyPem,
});

/** A refund as written down: the card of an abnormal refund reduced to its last four digits. */
function refundState(refund: Refund): Refund {
  const recipient = refund.abnormalRecipient;
  if (!recipient) return refund;
  const { realName: _name, bankAccount, ...kept } = recipient;
  return {
    ...refund,
    abnormalRecipient: { ...kept, ...(bankAccount ? { bankAccount: `****${bankAccount.slice(-4)}` } : {}) },
  };
}

export function wxpayState(gateway: WxpayGateway): WxpayState {
  const { merchants } = gateway;
  const authority = merchants.existingAuthority();
  return {
    version: 1,
    clockOffsetMs: gateway.runtime.clock.offsetMs,
    ...(authority ? { authority: authority.toState() } : {}),
    certificates: merchants.platformCertificates().map((certificate) => ({
      ...keyState(certificate),
      certificatePem: certificate.certificatePem,
      notBefore: certificate.notBefore.toISOString(),
      notAfter: certificate.notAfter.toISOString(),
      signsFrom: certificate.signsFrom,
    })),
    merchants: merchants.all().map((merchant) => ({
      mchid: merchant.mchid,
      appids: [...merchant.appids],
      apiV3Key: merchant.apiV3Key,
      merchantSerialNo: merchant.merchantSerialNo,
      merchantPublicKeyPem: merchant.merchantPublicKey.export({ type: 'spki', format: 'pem' }).toString(),
      keyMode: merchant.keyMode,
      ...(merchant.publicKey ? { publicKey: keyState(merchant.publicKey) } : {}),
      publicKeyNotificationShare: merchant.publicKeyNotificationShare,
      refundAutoSucceedMs: merchant.refundAutoSucceedMs,
      refundSpacing: merchant.refundSpacing,
      ...(merchant.profitSharingNotifyUrl ? { profitSharingNotifyUrl: merchant.profitSharingNotifyUrl } : {}),
    })),
    trades: gateway.trades.all(),
    refunds: gateway.refunds.all().map(refundState),
    subMerchants: gateway.subMerchants.all(),
  };
}

/** Puts a saved state into a gateway that has none yet. */
export async function restoreWxpayState(gateway: WxpayGateway, saved: unknown): Promise<void> {
  const state = saved as WxpayState;
  if (state?.version !== 1) throw new Error('wxpay sandbox state: unknown version');
  const authority = state.authority ? await TestCertificateAuthority.fromState(state.authority) : undefined;
  const certificates: PublishedCertificate[] = state.certificates.map((certificate) => ({
    ...(signingKey('certificate', certificate) as GatewaySigningKey & { kind: 'certificate' }),
    certificatePem: certificate.certificatePem,
    notBefore: new Date(certificate.notBefore),
    notAfter: new Date(certificate.notAfter),
    signsFrom: certificate.signsFrom,
  }));
  const merchants: Merchant[] = state.merchants.map((merchant) => ({
    mchid: merchant.mchid,
    appids: new Set(merchant.appids),
    apiV3Key: merchant.apiV3Key,
    merchantSerialNo: merchant.merchantSerialNo,
    merchantPublicKey: createPublicKey(merchant.merchantPublicKeyPem),
    keyMode: merchant.keyMode,
    publicKey: merchant.publicKey ? signingKey('publicKey', merchant.publicKey) : undefined,
    publicKeyNotificationShare: merchant.publicKeyNotificationShare,
    refundAutoSucceedMs: merchant.refundAutoSucceedMs,
    refundSpacing: merchant.refundSpacing,
    ...(merchant.profitSharingNotifyUrl ? { profitSharingNotifyUrl: merchant.profitSharingNotifyUrl } : {}),
  }));
  gateway.merchants.restore(merchants, certificates, authority);
  gateway.subMerchants.restore(state.subMerchants ?? []);
  gateway.trades.restore(state.trades);
  gateway.refunds.restore(state.refunds, (mchid) => gateway.subMerchants.signerOf(mchid));
  gateway.runtime.clock.setOffset(state.clockOffsetMs);
}
