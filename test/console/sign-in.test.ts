import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/service/console/passwords.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, consoleApp, PASSWORD, setCookies } from './client.ts';

describe.each(backends)('console sign-in on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  beforeAll(async () => {
    vkPay = await backend.open();
    app = await consoleApp(vkPay);
    await addUser(vkPay, 'alice', 'operator');
    await addUser(vkPay, 'throttled', 'viewer');
    await addUser(vkPay, 'fixed', 'viewer');
  }, 300_000);
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  const audits = (action: string, target: string) =>
    vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('action', '=', action)
      .where('target', '=', target)
      .execute();

  it('signs in with the right password into a session cookie that opens the overview', async () => {
    const client = new ConsoleClient(app);
    const answer = await client.signIn('alice', PASSWORD);
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({
      code: 0,
      data: { user: { name: 'alice', role: 'operator' }, stage: 'full', next: '/console' },
    });
    const session = setCookies(answer).find((cookie) => cookie.name === 'vkpay_console')!;
    expect(session.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const overview = await client.get('/console');
    expect(overview.json()).toMatchObject({
      code: 0,
      data: { user: { name: 'alice', role: 'operator', merchantIds: null } },
    });
    const html = await client.get('/console', { html: true });
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('<html lang=');
    expect(html.body).toMatch(/<title>[^<]+<\/title>/);
    expect(html.body).toContain('<h1>');
    expect(html.body).toContain('alice');
    expect(html.headers['content-security-policy']).toContain("script-src 'self'");
    expect(await audits('login', 'alice')).toHaveLength(1);
  });

  it('refuses a wrong password or an unknown name alike, and writes a failed-login row', async () => {
    const client = new ConsoleClient(app, '10.1.0.1');
    const wrong = await client.signIn('alice', 'not the password');
    const unknown = await client.signIn('nobody', 'not the password');
    for (const answer of [wrong, unknown]) {
      expect(answer.statusCode).toBe(401);
      expect(answer.json()).toMatchObject({ code: 40002, reason: 'wrong user name or password' });
      expect(setCookies(answer).some((cookie) => cookie.name === 'vkpay_console')).toBe(false);
    }
    expect((await client.get('/console')).statusCode).toBe(401);
    const [row] = await audits('login.failed', 'nobody');
    expect(row).toMatchObject({ actor_name: 'nobody', ip: '10.1.0.1', after: { reason: 'unknown user' } });
    expect(JSON.stringify(await audits('login.failed', 'alice'))).not.toContain('not the password');
  });

  it('answers a browser with the sign-in page again, the error on it', async () => {
    const client = new ConsoleClient(app, '10.1.0.2');
    await client.get('/console/login', { html: true });
    const answer = await client.send('POST', '/console/login', {
      form: { name: 'alice', password: 'wrong', _csrf: client.csrf },
      html: true,
      headers: { 'x-csrf-token': '' },
    });
    expect(answer.statusCode).toBe(401);
    expect(answer.headers['content-type']).toContain('text/html');
    expect(answer.body).toContain('data-testid="error"');
    expect(answer.body).toContain('aria-invalid="true"');
    const ok = await client.send('POST', '/console/login', {
      form: { name: 'alice', password: PASSWORD, _csrf: client.csrf },
      html: true,
      headers: { 'x-csrf-token': '' },
    });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/console');
  });

  it('answers 429 with Retry-After after five failures for an account, even with the right password', async () => {
    const ips = ['10.2.0.1', '10.2.0.2', '10.2.0.3', '10.2.0.4', '10.2.0.5', '10.2.0.6', '10.2.0.7'];
    for (const ip of ips.slice(0, 5)) {
      const answer = await new ConsoleClient(app, ip).signIn('throttled', 'wrong password');
      expect(answer.statusCode).toBe(401);
    }
    const refused = await new ConsoleClient(app, ips[5]).signIn('throttled', PASSWORD);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 40008, details: { retryAfterSeconds: expect.any(Number) } });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(900);
    // Another account from another address is not held up.
    expect((await new ConsoleClient(app, ips[6]).signIn('alice', PASSWORD)).statusCode).toBe(200);
  });

  it('answers 429 after five failures from one address, whatever the account', async () => {
    const client = new ConsoleClient(app, '10.3.0.1');
    for (const name of ['a1', 'a2', 'a3', 'a4', 'a5'])
      expect((await client.signIn(name, 'x')).statusCode).toBe(401);
    const refused = await client.signIn('alice', PASSWORD);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
  });

  it('never promotes a session id set before sign-in (no fixation)', async () => {
    const planted = 'A'.repeat(43);
    const client = new ConsoleClient(app, '10.4.0.1');
    client.jar.set('vkpay_console', planted);
    const answer = await client.signIn('fixed', PASSWORD);
    expect(answer.statusCode).toBe(200);
    const issued = client.jar.get('vkpay_console');
    expect(issued).toBeDefined();
    expect(issued).not.toBe(planted);
    // The planted id opens nothing.
    const attacker = new ConsoleClient(app, '10.4.0.2');
    attacker.jar.set('vkpay_console', planted);
    expect((await attacker.get('/console')).statusCode).toBe(401);

    // Nor does a real session id of before: signing in again ends it and makes a new one.
    const before = issued!;
    await client.signIn('fixed', PASSWORD);
    expect(client.jar.get('vkpay_console')).not.toBe(before);
    const old = new ConsoleClient(app, '10.4.0.3');
    old.jar.set('vkpay_console', before);
    expect((await old.get('/console')).statusCode).toBe(401);
  });

  it('keeps only the SHA-256 of session ids, and logout deletes the session', async () => {
    const client = new ConsoleClient(app, '10.5.0.1');
    await client.signIn('alice', PASSWORD);
    const id = client.jar.get('vkpay_console')!;
    const rows = await vkPay.store.db.selectFrom('console_sessions').select('id_hash').execute();
    expect(rows.some((row) => row.id_hash === id)).toBe(false);
    const out = await client.post('/console/logout');
    expect(out.json()).toMatchObject({ code: 0, data: { signedOut: true } });
    expect(client.jar.has('vkpay_console')).toBe(false);
    const again = new ConsoleClient(app, '10.5.0.2');
    again.jar.set('vkpay_console', id);
    expect((await again.get('/console')).statusCode).toBe(401);
    expect((await audits('logout', 'alice')).length).toBeGreaterThan(0);
  });

  it('ends a session after 30 minutes unused and 12 hours after sign-in', async () => {
    const client = new ConsoleClient(app, '10.6.0.1');
    await client.signIn('alice', PASSWORD);
    const { createHash } = await import('node:crypto');
    const idHash = createHash('sha256').update(client.jar.get('vkpay_console')!).digest('hex');
    await vkPay.store.db
      .updateTable('console_sessions')
      .set({ last_seen_at: new Date(Date.now() - 31 * 60_000) })
      .where('id_hash', '=', idHash)
      .execute();
    expect((await client.get('/console')).statusCode).toBe(401);

    await client.signIn('alice', PASSWORD);
    const second = createHash('sha256').update(client.jar.get('vkpay_console')!).digest('hex');
    await vkPay.store.db
      .updateTable('console_sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id_hash', '=', second)
      .execute();
    expect((await client.get('/console')).statusCode).toBe(401);
  });

  it('sends a browser without a session to the sign-in page', async () => {
    const answer = await new ConsoleClient(app).get('/console/users?lang=en', { html: true });
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe('/console/login?lang=en');
  });

  it('replaces a hash made under older scrypt parameters on sign-in', async () => {
    await addUser(vkPay, 'legacy', 'viewer');
    await vkPay.store.db
      .updateTable('console_users')
      .set({ password_hash: await hashPassword(PASSWORD, { ln: 14, r: 8, p: 1 }) })
      .where('name', '=', 'legacy')
      .execute();
    expect((await new ConsoleClient(app, '10.7.0.1').signIn('legacy', PASSWORD)).statusCode).toBe(200);
    const row = await vkPay.store.db
      .selectFrom('console_users')
      .select('password_hash')
      .where('name', '=', 'legacy')
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^scrypt\$ln=15,r=8,p=1\$/);
  });
});
