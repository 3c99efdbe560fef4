/** Fingerprints of public keys and certificates, as operators compare them with the gateways' consoles. */
import { createHash, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';

/** SHA-256 (hex) of a public key's DER SubjectPublicKeyInfo; a private key gives its public half's. */
export function publicKeySha256(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** SHA-256 (hex) of a certificate's DER, as `openssl x509 -fingerprint -sha256` prints it (without colons). */
export function certificateSha256(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('hex');
}
