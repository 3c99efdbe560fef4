/**
 * Certificate mode's Alipay public keys by alipay_cert_sn. Alipay renews its public-key
 * certificate from time to time; answers then carry a new alipay_cert_sn. The new certificate is
 * fetched once (alipay.open.app.alipaycert.download) and trusted only if it chains to the
 * configured Alipay root certificate, is valid now, and has the SN the answer named: the download
 * itself proves nothing, the root's signature does.
 */
import { type KeyObject, X509Certificate } from 'node:crypto';
import { PayError } from '../../core/errors.ts';
import { snOf } from './cert-sn.ts';
import { pemCertificates, readCertificate } from './der.ts';

/** Issuer links followed from the certificate up to a root, at most. */
const MAX_CHAIN = 4;

function untrusted(message: string): PayError {
  return new PayError(40003, { field: 'alipay_cert_sn', message: `alipay certificate: ${message}` });
}

export class AlipayKeyring {
  readonly #keys = new Map<string, KeyObject>();
  readonly #roots: X509Certificate[];
  readonly #pending = new Map<string, Promise<KeyObject>>();

  constructor(
    configured: { sn: string; key: KeyObject },
    rootBundlePem: string,
    private readonly now: () => number,
  ) {
    this.#keys.set(configured.sn, configured.key);
    this.#roots = pemCertificates(rootBundlePem).map((der) => new X509Certificate(der));
  }

  keyFor(sn: string): KeyObject | undefined {
    return this.#keys.get(sn);
  }

  /** Every key known, the configured one first: callbacks carry no SN, so each is tried. */
  keys(): KeyObject[] {
    return [...this.#keys.values()];
  }

  /** The key of `sn`, downloading its certificate once however many calls ask at the same time. */
  learn(sn: string, download: (sn: string) => Promise<string>): Promise<KeyObject> {
    const known = this.#keys.get(sn);
    if (known) return Promise.resolve(known);
    let pending = this.#pending.get(sn);
    if (!pending) {
      pending = download(sn)
        .then((pem) => {
          const key = this.trust(pem, sn);
          this.#keys.set(sn, key);
          return key;
        })
        .finally(() => this.#pending.delete(sn));
      this.#pending.set(sn, pending);
    }
    return pending;
  }

  /** The public key of a downloaded certificate (with its chain), if the root vouches for it. */
  trust(pem: string, sn: string): KeyObject {
    const ders = pemCertificates(pem);
    if (ders.length === 0) throw untrusted('the download holds no certificate');
    const [leafDer, ...chainDers] = ders;
    if (snOf(readCertificate(leafDer!)) !== sn) throw untrusted(`the download is not certificate ${sn}`);
    const leaf = new X509Certificate(leafDer!);
    const chain = chainDers.map((der) => new X509Certificate(der));
    const now = this.now();
    let current = leaf;
    for (let step = 0; step <= MAX_CHAIN; step += 1) {
      if (Date.parse(current.validFrom) > now || Date.parse(current.validTo) < now)
        throw untrusted(`${current.subject.split('\n').join(', ')} is not valid now`);
      const root = this.#roots.find((candidate) => issuedBy(current, candidate));
      if (root) return leaf.publicKey;
      const next = chain.find((candidate) => issuedBy(current, candidate));
      if (!next) throw untrusted('it does not chain to the configured Alipay root certificate');
      current = next;
    }
    throw untrusted('its chain is too long');
  }
}

function issuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
