/**
 * The Alipay emulator's state as JSON, for its state file: the test CA, apps (with the "Alipay"
 * keys and certificates made for them), trades with their refunds, and the clock's offset. Keys
 * are PEM. Notifications in flight, faults and bill links are not kept: after a restart a merchant
 * queries what it missed, as it would after lost notifications.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyMode, RegisteredApp } from './apps.ts';
import type { AlipayGateway } from './gateway.ts';
import { type RoyaltyRelation, royaltyBookOf } from './royalty.ts';
import type { AlipayCaState } from './test-ca.ts';
import type { Trade } from './trades.ts';

interface AppState {
  appId: string;
  keyMode: KeyMode;
  sellerId: string;
  appPublicKeyPem: string;
  appCertPem?: string;
  appCertSn?: string;
  alipayPrivateKeyPem: string;
  alipayPublicKeyPem: string;
  alipayCertPem?: string;
  alipayCertSn?: string;
  retiredAlipayCerts?: Array<[string, string]>;
}

export interface AlipayState {
  version: 1;
  clockOffsetMs: number;
  ca: AlipayCaState;
  apps: AppState[];
  trades: Trade[];
  /** Receivers bound by each app (alipay.trade.royalty.relation.bind). */
  royaltyRelations?: RoyaltyRelation[];
}

export function alipayState(gateway: AlipayGateway): AlipayState {
  return {
    version: 1,
    clockOffsetMs: gateway.runtime.clock.offsetMs,
    ca: gateway.ca.toState(),
    apps: gateway.apps.all().map((app) => ({
      appId: app.appId,
      keyMode: app.keyMode,
      sellerId: app.sellerId,
      appPublicKeyPem: app.appPublicKey.export({ type: 'spki', format: 'pem' }).toString(),
      ...(app.appCertPem ? { appCertPem: app.appCertPem, appCertSn: app.appCertSn } : {}),
      alipayPrivateKeyPem: app.alipayPrivateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      alipayPublicKeyPem: app.alipayPublicKeyPem,
      ...(app.alipayCertPem ? { alipayCertPem: app.alipayCertPem, alipayCertSn: app.alipayCertSn } : {}),
      ...(app.retiredAlipayCerts ? { retiredAlipayCerts: [...app.retiredAlipayCerts] } : {}),
    })),
    trades: gateway.trades.snapshot(),
    royaltyRelations: [...royaltyBookOf(gateway).relations.values()],
  };
}

/** Puts a saved state into a gateway that has none yet. */
export async function restoreAlipayState(gateway: AlipayGateway, saved: unknown): Promise<void> {
  const state = saved as AlipayState;
  if (state?.version !== 1) throw new Error('alipay sandbox state: unknown version');
  await gateway.ca.restore(state.ca);
  gateway.apps.restore(
    state.apps.map(
      (app): RegisteredApp => ({
        appId: app.appId,
        keyMode: app.keyMode,
        sellerId: app.sellerId,
        appPublicKey: createPublicKey(app.appPublicKeyPem),
        ...(app.appCertPem ? { appCertPem: app.appCertPem, appCertSn: app.appCertSn } : {}),
        alipayPrivateKey: createPrivateKey(app.alipayPrivateKeyPem),
        alipayPublicKeyPem: app.alipayPublicKeyPem,
        ...(app.alipayCertPem ? { alipayCertPem: app.alipayCertPem, alipayCertSn: app.alipayCertSn } : {}),
        ...(app.retiredAlipayCerts ? { retiredAlipayCerts: new Map(app.retiredAlipayCerts) } : {}),
      }),
    ),
  );
  gateway.trades.restore(state.trades);
  const royalty = royaltyBookOf(gateway);
  for (const relation of state.royaltyRelations ?? []) royalty.addRelation(relation);
  gateway.runtime.clock.setOffset(state.clockOffsetMs);
}
