/**
 * Loads @peculiar/x509 on first use. Its dependency tsyringe insists on a Reflect metadata polyfill
 * that the project does not ship; x509 only needs these three calls (and no real metadata), so a
 * minimal WeakMap-backed version is installed when none is present, before the import.
 */
import { webcrypto } from 'node:crypto';

type X509Module = typeof import('@peculiar/x509');

function installReflectMetadataShim(): void {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect.getMetadata === 'function') return;
  const store = new WeakMap<object, Map<unknown, Map<unknown, unknown>>>();
  const entriesOf = (target: object, property: unknown) => {
    const byProperty = store.get(target) ?? new Map<unknown, Map<unknown, unknown>>();
    store.set(target, byProperty);
    const entries = byProperty.get(property) ?? new Map<unknown, unknown>();
    byProperty.set(property, entries);
    return entries;
  };
  const getOwnMetadata = (key: unknown, target: object, property?: unknown) =>
    store.get(target)?.get(property)?.get(key);
  reflect.defineMetadata = (key: unknown, value: unknown, target: object, property?: unknown) => {
    entriesOf(target, property).set(key, value);
  };
  reflect.getOwnMetadata = getOwnMetadata;
  reflect.getMetadata = (key: unknown, target: object, property?: unknown) => {
    for (let current: object | null = target; current; current = Object.getPrototypeOf(current)) {
      const value = getOwnMetadata(key, current, property);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

let loaded: Promise<X509Module> | undefined;

export function loadX509(): Promise<X509Module> {
  loaded ??= (async () => {
    installReflectMetadataShim();
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return loaded;
}
