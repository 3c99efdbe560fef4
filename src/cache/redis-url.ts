/**
 * Where the shared cache lives, read from one URL: a single Redis (`redis://`, `rediss://`), a
 * master found through Sentinel (`redis+sentinel://`) or a Redis Cluster (`redis+cluster://`).
 * Pure: it checks and splits the URL; src/cache/redis.ts opens the connections.
 *
 *   redis://[[user]:password@]host[:6379][/db]
 *   redis+sentinel://[[user]:password@]host1[:26379][,host2[:26379]...]/master-name[/db]
 *     [?sentinelUsername=...&sentinelPassword=...]
 *   redis+cluster://[[user]:password@]host1[:6379][,host2[:6379]...]
 *
 * `rediss` in place of `redis` speaks TLS (to the sentinels and the master, or to every cluster
 * node). The user and password are Redis's (ACL or requirepass); percent-encode what is not a
 * letter or a digit. Errors name the part that is wrong, never the password.
 */

export interface RedisNode {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
}

export type RedisTarget =
  | { mode: 'standalone'; url: string }
  | ({
      mode: 'sentinel';
      sentinels: RedisNode[];
      /** The master group name the sentinels monitor. */
      name: string;
      db: number;
      tls: boolean;
      sentinelUsername?: string;
      sentinelPassword?: string;
    } & Credentials)
  | ({ mode: 'cluster'; nodes: RedisNode[]; tls: boolean } & Credentials);

export class RedisUrlError extends Error {
  override name = 'RedisUrlError';
}

const SCHEMES: Record<string, { mode: RedisTarget['mode']; tls: boolean; defaultPort: number }> = {
  'redis:': { mode: 'standalone', tls: false, defaultPort: 6379 },
  'rediss:': { mode: 'standalone', tls: true, defaultPort: 6379 },
  'redis+sentinel:': { mode: 'sentinel', tls: false, defaultPort: 26379 },
  'rediss+sentinel:': { mode: 'sentinel', tls: true, defaultPort: 26379 },
  'redis+cluster:': { mode: 'cluster', tls: false, defaultPort: 6379 },
  'rediss+cluster:': { mode: 'cluster', tls: true, defaultPort: 6379 },
};

export const REDIS_URL_SCHEMES = Object.keys(SCHEMES).map((scheme) => scheme.slice(0, -1));

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RedisUrlError(`has a badly percent-encoded ${what}`);
  }
}

function node(text: string, defaultPort: number): RedisNode {
  // [v6 address]:port, or host:port; the port may be left out.
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(text);
  if (!match) throw new RedisUrlError(`has a host that is not host[:port]: ${JSON.stringify(text)}`);
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port < 1 || port > 65_535) throw new RedisUrlError(`has a port out of range: ${match[3]}`);
  return { host: (match[1] ?? match[2]) as string, port };
}

function database(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d{1,5}$/.test(text))
    throw new RedisUrlError(`has a database that is not a number: ${JSON.stringify(text)}`);
  return Number(text);
}

/** Reads a REDIS_URL; throws RedisUrlError (naming the part, not the password) when it is malformed. */
export function parseRedisUrl(url: string): RedisTarget {
  const schemeEnd = url.indexOf('://');
  const scheme = schemeEnd > 0 ? `${url.slice(0, schemeEnd).toLowerCase()}:` : '';
  const kind = SCHEMES[scheme];
  if (!kind) throw new RedisUrlError(`must start with ${REDIS_URL_SCHEMES.map((s) => `${s}://`).join(', ')}`);
  if (kind.mode === 'standalone') {
    try {
      new URL(url);
    } catch {
      throw new RedisUrlError('is not a URL');
    }
    return { mode: 'standalone', url };
  }

  let rest = url.slice(schemeEnd + 3);
  const hashAt = rest.indexOf('#');
  if (hashAt >= 0) throw new RedisUrlError('has a #fragment, which means nothing here');
  const queryAt = rest.indexOf('?');
  const query = new URLSearchParams(queryAt >= 0 ? rest.slice(queryAt + 1) : '');
  if (queryAt >= 0) rest = rest.slice(0, queryAt);
  const slashAt = rest.indexOf('/');
  const path = slashAt >= 0 ? rest.slice(slashAt + 1) : '';
  const authority = slashAt >= 0 ? rest.slice(0, slashAt) : rest;
  const at = authority.lastIndexOf('@');
  const credentials: Credentials = {};
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'user name');
    const password = colon >= 0 ? decode(userinfo.slice(colon + 1), 'password') : '';
    if (username) credentials.username = username;
    if (password) credentials.password = password;
  }
  const hosts = authority.slice(at + 1);
  if (hosts === '') throw new RedisUrlError('names no host');
  const nodes = hosts.split(',').map((host) => node(host, kind.defaultPort));

  if (kind.mode === 'cluster') {
    if (path !== '')
      throw new RedisUrlError('for a cluster takes no path: Redis Cluster has database 0 only');
    if ([...query.keys()].length > 0)
      throw new RedisUrlError(`for a cluster takes no options, got ${[...query.keys()].join(', ')}`);
    return { mode: 'cluster', nodes, tls: kind.tls, ...credentials };
  }

  const [name, db, ...extra] = path.split('/');
  if (!name)
    throw new RedisUrlError('for Sentinel must name the master group: redis+sentinel://host:26379/mymaster');
  if (extra.length > 0) throw new RedisUrlError('for Sentinel has a path longer than /master-name/db');
  const unknown = [...query.keys()].filter((key) => key !== 'sentinelUsername' && key !== 'sentinelPassword');
  if (unknown.length > 0)
    throw new RedisUrlError(
      `for Sentinel takes only sentinelUsername and sentinelPassword options, got ${unknown.join(', ')}`,
    );
  const sentinelUsername = query.get('sentinelUsername');
  const sentinelPassword = query.get('sentinelPassword');
  return {
    mode: 'sentinel',
    sentinels: nodes,
    name: decode(name, 'master name'),
    db: database(db),
    tls: kind.tls,
    ...credentials,
    ...(sentinelUsername ? { sentinelUsername } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}
