import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, consoleApp, PASSWORD } from './client.ts';

const NEW_PASSWORD = 'a new and longer passphrase';

describe.each(backends)('changing one’s own console password on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  beforeAll(async () => {
    vkPay = await backend.open();
    app = await consoleApp(vkPay);
    for (const name of ['carol', 'dave', 'erin', 'frank']) await addUser(vkPay, name, 'viewer');
  }, 300_000);
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  const hashOf = async (name: string) =>
    (
      await vkPay.store.db
        .selectFrom('console_users')
        .select('password_hash')
        .where('name', '=', name)
        .executeTakeFirstOrThrow()
    ).password_hash;
  const audits = (action: string, target: string) =>
    vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('action', '=', action)
      .where('target', '=', target)
      .execute();

  it('changes it with the current one: a new session here, every other session ended, an audit row', async () => {
    const here = new ConsoleClient(app, '10.9.0.1');
    const elsewhere = new ConsoleClient(app, '10.9.0.2');
    expect((await here.signIn('carol', PASSWORD)).statusCode).toBe(200);
    expect((await elsewhere.signIn('carol', PASSWORD)).statusCode).toBe(200);
    const before = here.jar.get('vkpay_console');
    await here.get('/console/password');
    const changed = await here.post('/console/password', { current: PASSWORD, password: NEW_PASSWORD });
    expect(changed.json()).toMatchObject({ code: 0, data: { changed: true } });
    expect(here.jar.get('vkpay_console')).not.toBe(before);
    expect((await here.get('/console')).statusCode).toBe(200);
    expect((await elsewhere.get('/console')).statusCode).toBe(401);
    const stale = new ConsoleClient(app, '10.9.0.3');
    stale.jar.set('vkpay_console', before!);
    expect((await stale.get('/console')).statusCode).toBe(401);
    expect((await new ConsoleClient(app, '10.9.0.4').signIn('carol', PASSWORD)).statusCode).toBe(401);
    expect((await new ConsoleClient(app, '10.9.0.5').signIn('carol', NEW_PASSWORD)).statusCode).toBe(200);
    const [row] = await audits('password.changed', 'carol');
    expect(row).toMatchObject({ actor_name: 'carol', ip: '10.9.0.1', after: { otherSessionsEnded: 1 } });
    const rows = JSON.stringify(await vkPay.store.db.selectFrom('console_audit').selectAll().execute());
    expect(rows).not.toContain(NEW_PASSWORD);
    expect(rows).not.toContain(await hashOf('carol'));
  });

  it('refuses a wrong current password, a short or unchanged new one and a mistyped repeat, changing nothing', async () => {
    const client = new ConsoleClient(app, '10.9.1.1');
    await client.signIn('dave', PASSWORD);
    const hash = await hashOf('dave');
    const wrong = await client.post('/console/password', {
      current: 'not it at all',
      password: NEW_PASSWORD,
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 40002 });
    const short = await client.post('/console/password', { current: PASSWORD, password: 'short' });
    expect(short.json()).toMatchObject({ code: 40001, field: 'password' });
    const same = await client.post('/console/password', { current: PASSWORD, password: PASSWORD });
    expect(same.json()).toMatchObject({ code: 40001 });
    const mistyped = await client.post('/console/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: `${NEW_PASSWORD}!`,
    });
    expect(mistyped.json()).toMatchObject({ code: 40001, field: 'confirm' });
    const unknownField = await client.post('/console/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      role: 'admin',
    });
    expect(unknownField.statusCode).toBe(400);
    expect(await hashOf('dave')).toBe(hash);
    expect((await client.get('/console')).statusCode).toBe(200);
    expect(await audits('password.failed', 'dave')).toHaveLength(1);
    expect(await audits('password.changed', 'dave')).toHaveLength(0);
  });

  it('throttles guesses of the current password from an open session like sign-ins', async () => {
    const client = new ConsoleClient(app, '10.9.2.1');
    await client.signIn('erin', PASSWORD);
    for (let i = 0; i < 5; i++)
      expect(
        (await client.post('/console/password', { current: `guess ${i}`, password: NEW_PASSWORD }))
          .statusCode,
      ).toBe(401);
    const refused = await client.post('/console/password', { current: PASSWORD, password: NEW_PASSWORD });
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 40008 });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('needs a session and the CSRF token; a browser gets the form again with the error at its field', async () => {
    const anonymous = new ConsoleClient(app, '10.9.3.1');
    await anonymous.get('/console/login');
    expect(
      (await anonymous.post('/console/password', { current: PASSWORD, password: NEW_PASSWORD })).statusCode,
    ).toBe(401);
    const client = new ConsoleClient(app, '10.9.3.2');
    await client.signIn('frank', PASSWORD);
    const forged = await client.send('POST', '/console/password', {
      json: { current: PASSWORD, password: NEW_PASSWORD },
      headers: { 'x-csrf-token': 'forged' },
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.json()).toMatchObject({ code: 40009 });
    const page = await client.get('/console/password', { html: true });
    expect(page.body).toContain('autocomplete="current-password"');
    expect(page.body).toContain('href="/console/password');
    const again = await client.send('POST', '/console/password', {
      form: { current: PASSWORD, password: NEW_PASSWORD, confirm: 'something else', _csrf: client.csrf },
      html: true,
      headers: { 'x-csrf-token': '' },
    });
    expect(again.statusCode).toBe(400);
    expect(again.body).toMatch(/id="repeat-password"[^>]*aria-invalid="true"/);
    const done = await client.send('POST', '/console/password', {
      form: { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD, _csrf: client.csrf },
      html: true,
      headers: { 'x-csrf-token': '' },
    });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/console/password?changed=1');
    const after = await client.get(String(done.headers.location), { html: true });
    expect((await client.get('/console')).statusCode).toBe(200);
    expect(after.body).toContain('data-testid="notice"');
    expect(after.body).not.toContain(NEW_PASSWORD);
    // The page's token works for the next change: signing out.
    const out = await client.send('POST', '/console/logout', {
      form: { _csrf: client.csrf },
      html: true,
      headers: { 'x-csrf-token': '' },
    });
    expect(out.statusCode).toBe(303);
    expect((await client.get('/console')).statusCode).toBe(401);
  });
});
