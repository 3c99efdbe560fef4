/**
 * @peculiar/x509, loaded once with what it needs: the Reflect metadata API (its dependency tsyringe
 * requires it) and Node's WebCrypto. Every test CA and certificate tool goes through here.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';

type X509Module = typeof import('@peculiar/x509');

let loaded: Promise<X509Module> | undefined;

export function loadX509(): Promise<X509Module> {
  loaded ??= import('@peculiar/x509').then((x509) => {
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  });
  return loaded;
}
