/**
 * The few Reflect metadata functions tsyringe (a dependency of @peculiar/x509) checks for. No
 * polyfill package is installed, and x509 only needs them to exist; values are kept per target.
 */
type MetadataStore = WeakMap<object, Map<string | symbol | undefined, Map<unknown, unknown>>>;

const store: MetadataStore = new WeakMap();

function table(target: object, property: string | symbol | undefined, create: boolean) {
  let byProperty = store.get(target);
  if (!byProperty && create) {
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let entries = byProperty?.get(property);
  if (!entries && create && byProperty) {
    entries = new Map();
    byProperty.set(property, entries);
  }
  return entries;
}

const reflect = Reflect as unknown as Record<string, unknown>;

export function installReflectMetadata(): void {
  if (typeof reflect.getMetadata === 'function') return;
  const getOwn = (key: unknown, target: object, property?: string | symbol) =>
    table(target, property, false)?.get(key);
  Object.assign(reflect, {
    defineMetadata: (key: unknown, value: unknown, target: object, property?: string | symbol) => {
      table(target, property, true)!.set(key, value);
    },
    getOwnMetadata: getOwn,
    getMetadata: (key: unknown, target: object, property?: string | symbol) => {
      for (let current: object | null = target; current; current = Object.getPrototypeOf(current)) {
        const value = getOwn(key, current, property);
        if (value !== undefined) return value;
      }
      return undefined;
    },
    hasMetadata: (key: unknown, target: object, property?: string | symbol) =>
      (reflect.getMetadata as (k: unknown, t: object, p?: string | symbol) => unknown)(
        key,
        target,
        property,
      ) !== undefined,
    metadata: (key: unknown, value: unknown) => (target: object, property?: string | symbol) => {
      table(target, property, true)!.set(key, value);
    },
  });
}
