import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, codeFor, PASSWORD, setCookies } from './client.ts';

describe.each(backends)('the console in production on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  /** Every answer the console gave in this suite, to look for secrets in. */
  const answers: string[] = [];
  beforeAll(async () => {
    vkPay = await backend.open({ env: 'production', webhooks: { secretKey: 'k'.repeat(32) } });
    app = await buildApp({ vkPay, docs: false });
    app.addHook('onSend', async (_request, reply, payload) => {
      answers.push(`${JSON.stringify(reply.getHeaders())}\n${typeof payload === 'string' ? payload : ''}`);
      return payload;
    });
    await addUser(vkPay, 'boss', 'admin');
    await addUser(vkPay, 'olga', 'operator');
  }, 300_000);
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  it('sets the session and CSRF cookies HttpOnly, SameSite=Strict, Secure, on /console only', async () => {
    const client = new ConsoleClient(app, '10.30.0.1');
    const page = await client.get('/console/login');
    const csrfCookie = setCookies(page).find((cookie) => cookie.name === 'vkpay_console_csrf')!;
    const answer = await client.post('/console/login', { name: 'olga', password: PASSWORD });
    const session = setCookies(answer).find((cookie) => cookie.name === 'vkpay_console')!;
    for (const cookie of [csrfCookie, session]) {
      const attributes = cookie.attributes.split(/;\s*/).map((part) => part.toLowerCase());
      expect(attributes, cookie.name).toEqual(
        expect.arrayContaining(['httponly', 'samesite=strict', 'secure', 'path=/console']),
      );
      expect(attributes.some((part) => part.startsWith('domain='))).toBe(false);
    }
    // A new CSRF secret comes with the session: the one from before sign-in is not carried over.
    const renewed = setCookies(answer).find((cookie) => cookie.name === 'vkpay_console_csrf');
    expect(renewed?.value).toBeDefined();
    expect(renewed?.value).not.toBe(csrfCookie.value);
  });

  it('sends an admin without a second factor to enrolment before anything else, then asks for codes', async () => {
    const client = new ConsoleClient(app, '10.31.0.1');
    const first = await client.signIn('boss', PASSWORD);
    expect(first.json()).toMatchObject({ code: 0, data: { stage: 'full', next: '/console/totp/enrol' } });
    const blocked = await client.get('/console/users');
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json()).toMatchObject({ code: 40009 });
    expect((await client.get('/console', { html: true })).headers.location).toBe('/console/totp/enrol');

    const enrolPage = await client.get('/console/totp/enrol', { html: true });
    expect(enrolPage.body).toContain('<svg role="img"');
    expect(enrolPage.body).toContain('otpauth://totp/VK-Pay:boss?');
    const enrolment = (await client.get('/console/totp/enrol')).json().data;
    expect(enrolment.uri).toMatch(/^otpauth:\/\/totp\/VK-Pay:boss\?/);
    const wrong = await client.post('/console/totp/enrol', { code: '000000' });
    expect(wrong.statusCode).toBe(400);
    const before = client.jar.get('vkpay_console');
    const enrolled = await client.post('/console/totp/enrol', { code: codeFor(enrolment.uri, Date.now()) });
    expect(enrolled.json()).toMatchObject({ code: 0, data: { totp: true } });
    expect(client.jar.get('vkpay_console')).not.toBe(before);
    expect((await client.get('/console/users')).statusCode).toBe(200);
    // Once enrolled, the secret is in no answer: the enrolment page refuses.
    expect((await client.get('/console/totp/enrol')).statusCode).toBe(400);
    const stored = await vkPay.store.db
      .selectFrom('console_users')
      .select('totp_secret')
      .where('name', '=', 'boss')
      .executeTakeFirstOrThrow();
    const secret = new URL(enrolment.uri).searchParams.get('secret')!;
    expect(JSON.stringify(stored.totp_secret)).not.toContain(secret);

    await client.post('/console/logout');
    const second = await client.signIn('boss', PASSWORD);
    expect(second.json()).toMatchObject({ code: 0, data: { stage: 'totp', next: '/console/totp' } });
    expect((await client.get('/console')).statusCode).toBe(401);
    expect((await client.post('/console/totp', { code: '123456' })).statusCode).toBe(401);
    // The code of the step enrolment used is spent; the next step's is good once.
    const next = codeFor(enrolment.uri, Date.now() + 30_000);
    const pending = client.jar.get('vkpay_console');
    const verified = await client.post('/console/totp', { code: next });
    expect(verified.json()).toMatchObject({ code: 0, data: { stage: 'full', next: '/console' } });
    expect(client.jar.get('vkpay_console')).not.toBe(pending);
    expect((await client.get('/console')).statusCode).toBe(200);

    const replay = new ConsoleClient(app, '10.31.0.2');
    await replay.signIn('boss', PASSWORD);
    expect((await replay.post('/console/totp', { code: next })).statusCode).toBe(401);

    const actions = await vkPay.store.db
      .selectFrom('console_audit')
      .select('action')
      .where('target', '=', 'boss')
      .orderBy('id')
      .execute();
    expect(actions.map((row) => row.action)).toEqual([
      'user.created',
      'login',
      'totp.enrolled',
      'logout',
      'login.password',
      'login.totp_failed',
      'login',
      'login.password',
      'login.totp_failed',
    ]);
  });

  it('lets an admin reset a second factor, which ends that user’s sessions', async () => {
    const client = new ConsoleClient(app, '10.32.0.1');
    await addUser(vkPay, 'second-admin', 'admin');
    await client.signIn('second-admin', PASSWORD);
    const enrolment = (await client.get('/console/totp/enrol')).json().data;
    await client.post('/console/totp/enrol', { code: codeFor(enrolment.uri, Date.now()) });
    expect((await client.post('/console/users/boss/reset-totp')).json()).toMatchObject({
      code: 0,
      data: { user: { totp: false } },
    });
    const row = await vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('action', '=', 'totp.reset')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      actor_name: 'second-admin',
      target: 'boss',
      before: { totp: true },
      after: { totp: false },
    });
  });

  it('puts no password hash, session id or enrolled TOTP secret in any answer', async () => {
    const users = await vkPay.store.db
      .selectFrom('console_users')
      .select(['password_hash', 'totp_secret'])
      .execute();
    const hashes = users.map((user) => user.password_hash.split('$').pop()!);
    const sessions = await vkPay.store.db.selectFrom('console_sessions').select('id_hash').execute();
    const text = answers.join('\n');
    expect(answers.length).toBeGreaterThan(20);
    expect(text).not.toContain('scrypt$');
    for (const hash of hashes) expect(text).not.toContain(hash);
    for (const session of sessions) expect(text).not.toContain(session.id_hash);
    for (const user of users)
      if (user.totp_secret) expect(text).not.toContain((user.totp_secret as { data: string }).data);
  });
});
