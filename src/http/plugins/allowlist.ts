/** IP allowlists with CIDR ranges for IPv4 and IPv6, built on node:net's BlockList. */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export interface Allowlist {
  allows(ip: string): boolean;
}

/** Parses entries like "10.0.0.0/8", "192.168.1.7", "::1", "2001:db8::/32". Throws on a bad entry. */
export function createAllowlist(entries: readonly string[]): Allowlist {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefixText] = entry.trim().split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    if (family === null) throw new Error(`not an IP address or CIDR range: ${entry}`);
    const maxPrefix = family === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix)
      throw new Error(`bad prefix length in ${entry}`);
    list.addSubnet(address, prefix, family);
  }
  return {
    allows(ip: string) {
      // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
      const plain = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
      if (isIPv4(plain)) return list.check(plain, 'ipv4');
      if (isIPv6(plain)) return list.check(plain, 'ipv6');
      return false;
    },
  };
}
