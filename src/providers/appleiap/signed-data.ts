/**
 * Verifies the App Store's signed data (transactions, renewal info, notification payloads) as
 * Apple's own SignedDataVerifier does, without online checks: ES256 only; an x5c of exactly three
 * certificates whose intermediate is signed by one of the configured roots (the x5c's own root is
 * never trusted) and is a CA carrying 1.2.840.113635.100.6.2.1, whose leaf it signed and which
 * carries 1.2.840.113635.100.6.11.1; all three valid at the payload's `signedDate`; then the
 * bundle id, the app's Apple id (production) and the environment. Any failure is a PayError 40002
 * whose gatewayCode names the reason (Apple's VerificationStatus names), or 40001 for an app or
 * environment that is not this merchant's.
 */
import { type KeyObject, X509Certificate as NodeCertificate } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { LRUCache } from 'lru-cache';
import { PayError } from '../../core/errors.ts';
import { loadX509 } from '../../core/x509.ts';
import type { AppleNotificationPayload, AppleRenewalInfo, AppleTransaction } from './wire.ts';

export const LEAF_MARKER_OID = '1.2.840.113635.100.6.11.1';
export const INTERMEDIATE_MARKER_OID = '1.2.840.113635.100.6.2.1';

export type AppleEnvironment = 'Sandbox' | 'Production';

export interface SignedDataSettings {
  /** Trusted roots, PEM: Apple Root CA - G3 in production, the emulator's root in tests. */
  rootCertificates: readonly string[];
  bundleId: string;
  /** Required in production, where notifications and transactions must name it. */
  appAppleId?: number;
  environment: AppleEnvironment;
}

type Reason =
  | 'VERIFICATION_FAILURE'
  | 'INVALID_CHAIN_LENGTH'
  | 'INVALID_CERTIFICATE'
  | 'INVALID_CHAIN'
  | 'INVALID_MARKER'
  | 'CERTIFICATE_EXPIRED'
  | 'INVALID_APP_IDENTIFIER'
  | 'INVALID_ENVIRONMENT';

function refuse(reason: Reason, message: string, cause?: unknown): PayError {
  const code = reason === 'INVALID_APP_IDENTIFIER' || reason === 'INVALID_ENVIRONMENT' ? 40001 : 40002;
  return new PayError(code, { gatewayCode: reason, message: `App Store signed data: ${message}`, cause });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A chain (leaf and intermediate, as x5c gave them) that verified to a trusted root: the leaf's key
 * and each certificate's validity window, so the same chain's next JWS checks only its dates and
 * its signature. The App Store signs with few leaves; a forged chain is never stored.
 */
interface TrustedChain {
  leafKey: KeyObject;
  windows: readonly (readonly [number, number])[];
}

export class AppleSignedDataVerifier {
  private readonly roots: NodeCertificate[];
  private readonly chains = new LRUCache<string, TrustedChain>({ max: 64 });

  constructor(
    private readonly settings: SignedDataSettings,
    private readonly now: () => number = Date.now,
  ) {
    if (settings.rootCertificates.length === 0) throw new Error('appleiap: no trusted root certificate');
    if (settings.environment === 'Production' && settings.appAppleId === undefined)
      throw new Error('appleiap: appAppleId is required in production');
    this.roots = settings.rootCertificates.map((pem) => new NodeCertificate(pem));
  }

  get environment(): AppleEnvironment {
    return this.settings.environment;
  }

  async verifyTransaction(jws: string): Promise<AppleTransaction> {
    const payload = await this.verify(jws);
    if (payload.bundleId !== this.settings.bundleId) throw refuse('INVALID_APP_IDENTIFIER', 'another app');
    if (payload.environment !== this.settings.environment)
      throw refuse('INVALID_ENVIRONMENT', `environment ${String(payload.environment)}`);
    if (typeof payload.transactionId !== 'string' || typeof payload.productId !== 'string')
      throw refuse('VERIFICATION_FAILURE', 'a transaction without transactionId or productId');
    return payload as unknown as AppleTransaction;
  }

  async verifyRenewalInfo(jws: string): Promise<AppleRenewalInfo> {
    const payload = await this.verify(jws);
    if (payload.environment !== this.settings.environment)
      throw refuse('INVALID_ENVIRONMENT', `environment ${String(payload.environment)}`);
    return payload as unknown as AppleRenewalInfo;
  }

  async verifyNotification(signedPayload: string): Promise<AppleNotificationPayload> {
    const payload = await this.verify(signedPayload);
    const scope = [payload.data, payload.summary].find(isRecord);
    if (typeof payload.notificationType !== 'string' || typeof payload.notificationUUID !== 'string')
      throw refuse('VERIFICATION_FAILURE', 'a notification without type or UUID');
    const production = this.settings.environment === 'Production';
    if (
      scope?.bundleId !== this.settings.bundleId ||
      (production && scope?.appAppleId !== this.settings.appAppleId)
    )
      throw refuse('INVALID_APP_IDENTIFIER', 'another app');
    if (scope?.environment !== this.settings.environment)
      throw refuse('INVALID_ENVIRONMENT', `environment ${String(scope?.environment)}`);
    return payload as unknown as AppleNotificationPayload;
  }

  /** The verified payload of a JWS, whatever it describes. */
  private async verify(jws: string): Promise<Record<string, unknown>> {
    if (typeof jws !== 'string' || jws.split('.').length !== 3)
      throw refuse('VERIFICATION_FAILURE', 'not a compact JWS');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let payload: unknown;
    try {
      header = decodeProtectedHeader(jws);
      payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8'));
    } catch (cause) {
      throw refuse('VERIFICATION_FAILURE', 'an unreadable JWS', cause);
    }
    if (header.alg !== 'ES256') throw refuse('VERIFICATION_FAILURE', `algorithm ${String(header.alg)}`);
    if (!isRecord(payload)) throw refuse('VERIFICATION_FAILURE', 'a payload that is not an object');
    const chain = header.x5c;
    if (!Array.isArray(chain) || chain.length !== 3)
      throw refuse('INVALID_CHAIN_LENGTH', 'x5c is not three certificates');
    const signedAt = typeof payload.signedDate === 'number' ? payload.signedDate : this.now();
    const chainKey = `${String(chain[0])}.${String(chain[1])}`;
    let trusted = this.chains.get(chainKey);
    if (!trusted) {
      let leaf: NodeCertificate;
      let intermediate: NodeCertificate;
      try {
        leaf = new NodeCertificate(Buffer.from(String(chain[0]), 'base64'));
        intermediate = new NodeCertificate(Buffer.from(String(chain[1]), 'base64'));
      } catch (cause) {
        throw refuse('INVALID_CERTIFICATE', 'an unreadable x5c certificate', cause);
      }
      trusted = await this.verifyChain(leaf, intermediate);
      this.chains.set(chainKey, trusted);
    }
    for (const [from, to] of trusted.windows) {
      if (signedAt < from || signedAt > to)
        throw refuse(
          'CERTIFICATE_EXPIRED',
          `a certificate is not valid at ${new Date(signedAt).toISOString()}`,
        );
    }
    try {
      await compactVerify(jws, trusted.leafKey, { algorithms: ['ES256'] });
    } catch (cause) {
      throw refuse('VERIFICATION_FAILURE', 'the signature does not verify', cause);
    }
    return payload;
  }

  /** The chain's checks that do not depend on the payload; its dates are checked per JWS. */
  private async verifyChain(leaf: NodeCertificate, intermediate: NodeCertificate): Promise<TrustedChain> {
    const root = this.roots.find(
      (candidate) => intermediate.issuer === candidate.subject && intermediate.verify(candidate.publicKey),
    );
    if (!root) throw refuse('INVALID_CHAIN', 'the intermediate is not issued by a trusted root');
    if (!intermediate.ca) throw refuse('INVALID_CHAIN', 'the intermediate is not a CA');
    if (leaf.issuer !== intermediate.subject || !leaf.verify(intermediate.publicKey))
      throw refuse('INVALID_CHAIN', 'the leaf is not issued by the intermediate');
    const x509 = await loadX509();
    const hasExtension = (certificate: NodeCertificate, oid: string) =>
      new x509.X509Certificate(certificate.raw).getExtension(oid) !== null;
    if (!hasExtension(leaf, LEAF_MARKER_OID))
      throw refuse('INVALID_MARKER', 'the leaf is not an App Store signer');
    if (!hasExtension(intermediate, INTERMEDIATE_MARKER_OID))
      throw refuse('INVALID_MARKER', 'the intermediate is not an Apple WWDR CA');
    return {
      leafKey: leaf.publicKey,
      windows: [leaf, intermediate, root].map(
        (certificate) => [Date.parse(certificate.validFrom), Date.parse(certificate.validTo)] as const,
      ),
    };
  }
}
