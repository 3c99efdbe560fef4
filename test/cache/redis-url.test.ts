import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../src/cache/redis-url.ts';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

describe('REDIS_URL forms', () => {
  it('passes a single Redis URL through as it is', () => {
    expect(parseRedisUrl('redis://:pw@cache:6379/2')).toEqual({
      mode: 'standalone',
      url: 'redis://:pw@cache:6379/2',
    });
    expect(parseRedisUrl('rediss://cache.example.com')).toEqual({
      mode: 'standalone',
      url: 'rediss://cache.example.com',
    });
  });

  it('reads sentinels, the master group, the database and both passwords', () => {
    expect(
      parseRedisUrl(
        'redis+sentinel://app:p%40ss%2Fw0rd@s1:26380,s2,[fd00::3]:26381/mymaster/3?sentinelPassword=s%26cret',
      ),
    ).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
        { host: 'fd00::3', port: 26381 },
      ],
      name: 'mymaster',
      db: 3,
      tls: false,
      username: 'app',
      password: 'p@ss/w0rd',
      sentinelPassword: 's&cret',
    });
    expect(parseRedisUrl('rediss+sentinel://:pw@10.0.0.1/cache-master')).toEqual({
      mode: 'sentinel',
      sentinels: [{ host: '10.0.0.1', port: 26379 }],
      name: 'cache-master',
      db: 0,
      tls: true,
      password: 'pw',
    });
  });

  it('reads cluster seed nodes with the default port 6379', () => {
    expect(parseRedisUrl('redis+cluster://n1:7000,n2:7001,n3')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
        { host: 'n3', port: 6379 },
      ],
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://default:pw@n1:6380/')).toMatchObject({
      mode: 'cluster',
      tls: true,
      username: 'default',
      password: 'pw',
    });
  });

  it.each([
    ['http://cache:6379', 'must start with redis://'],
    ['redis+sentinel://s1:26379', 'must name the master group'],
    ['redis+sentinel://s1:26379/mymaster/x', 'database that is not a number'],
    ['redis+sentinel://s1:26379/m/1/2', 'path longer'],
    ['redis+sentinel://s1:26379/m?role=slave', 'only sentinelUsername and sentinelPassword'],
    ['redis+sentinel:///mymaster', 'names no host'],
    ['redis+cluster://n1:6379/1', 'database 0 only'],
    ['redis+cluster://n1:99999', 'port out of range'],
    ['redis+cluster://n1:6379,,n2', 'not host[:port]'],
    ['redis+cluster://n1?x=1', 'takes no options'],
    ['redis+cluster://n1#frag', 'fragment'],
  ])('refuses %s', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  it('checks REDIS_URL at start and never echoes its password', () => {
    expect(loadConfig({ REDIS_URL: 'redis+cluster://n1,n2' }).redisUrl).toBe('redis+cluster://n1,n2');
    const load = () => loadConfig({ REDIS_URL: 'redis+sentinel://:hunter2-secret@s1:26379' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/^REDIS_URL for Sentinel must name the master group/);
    try {
      load();
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => loadConfig({ REDIS_URL: 'memcached://x' })).toThrow(/REDIS_URL must start with/);
  });
});
