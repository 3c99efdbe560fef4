/**
 * The operator console at /console: sign-in (password, then TOTP when the account has one), the
 * overview shell, users and the audit log. Pages for browsers, the `{code,msg,data}` envelope for
 * everything else; each state-changing request must come from the console's own origin with its
 * CSRF token, and writes its audit row in its own transaction. Pages added later register inside
 * this scope (`pages`), behind `requireRole` and `merchantScope` from ../console-access.ts.
 */
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import QRCode from 'qrcode';
import { PayError, toPayError } from '../../core/errors.ts';
import {
  changeUser,
  checkName,
  createUser,
  disableUser,
  listUsers,
  publicUser,
  resetTotp,
} from '../../service/console/accounts.ts';
import { type Actor, listAudit } from '../../service/console/audit.ts';
import { activeSession } from '../../service/console/sessions.ts';
import {
  type ConsoleDeps,
  changePassword,
  completeSecondFactor,
  confirmEnrolment,
  type Origin,
  signIn,
  signOut,
  startEnrolment,
} from '../../service/console/sign-in.ts';
import type { ConsoleRole } from '../../store/schema.ts';
import type { VkPay } from '../../vk-pay.ts';
import { consolePageKit } from '../console/page-kit.ts';
import {
  CONSOLE_PATH,
  CSRF_COOKIE,
  checkSameOrigin,
  clearSessionCookie,
  consoleHref,
  consoleLang,
  consoleUser,
  needsEnrolment,
  requireRole,
  SESSION_COOKIE,
  SignInRequired,
  setSessionCookie,
  wantsHtml,
} from '../console-access.ts';
import { consoleAssets } from '../console-assets.ts';
import {
  auditPage,
  enrolPage,
  errorPage,
  loginPage,
  overviewPage,
  type PageContext,
  passwordPage,
  totpPage,
  usersPage,
} from '../console-pages.ts';
import { text } from '../console-texts.ts';
import { failure, ok } from '../envelope.ts';
import { answerError } from '../error-handler.ts';
import { installTextGuard } from '../plugins/text-guard.ts';

export interface ConsoleRoutesOptions {
  vkPay: VkPay;
  /** Production: cookies always Secure, and admins must have a second factor. */
  production: boolean;
  /** Origins besides the request's own that may post to the console (the service's public URL). */
  origins?: string[];
  now?: () => Date;
  /** More console pages, registered inside this scope (sessions, CSRF, error pages apply). */
  pages?: ConsolePages[];
}

/** What a page registered through `pages` answers with: the same helpers as the pages here. */
export interface ConsolePageKit {
  vkPay: VkPay;
  /** A page for a browser, or its data (and a CSRF token for the next change) for anything else. */
  answer(
    request: FastifyRequest,
    reply: FastifyReply,
    view: { status?: number; path: string; data: Record<string, unknown>; page(ctx: PageContext): string },
  ): Promise<FastifyReply>;
  /** A 303 to a console path, the page's language kept. */
  redirect(request: FastifyRequest, reply: FastifyReply, path: string): FastifyReply;
  /** The signed-in operator, with the address and user agent, for an audit row. */
  actorOf(request: FastifyRequest): Actor;
  /** A fresh CSRF token for a JSON answer to a change. */
  csrfToken(request: FastifyRequest, reply: FastifyReply): string;
  /** A filter's day (YYYY-MM-DD) as the start of that day in UTC, `plusDays` later; 40001 if it is none. */
  dayStart(value: string | undefined, field: string, plusDays?: number): Date | undefined;
}

export type ConsolePages = (scope: FastifyInstance, kit: ConsolePageKit) => Promise<void>;

const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const CSRF_FIELD = {
  _csrf: { type: 'string', maxLength: 200 },
  lang: { type: 'string', enum: ['zh', 'en'] },
};
const MERCHANTS = {
  anyOf: [
    { type: 'string', maxLength: 2000 },
    { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 64 } },
  ],
};
const ROLE = { type: 'string', enum: ['viewer', 'operator', 'admin'] };

const loginBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'password'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    password: { type: 'string', minLength: 1, maxLength: 256 },
    ...CSRF_FIELD,
  },
} as const;
const passwordBody = {
  type: 'object',
  additionalProperties: false,
  required: ['current', 'password'],
  properties: {
    current: { type: 'string', maxLength: 256 },
    password: { type: 'string', maxLength: 256 },
    /** The form's second entry of the new password; JSON clients may leave it out. */
    confirm: { type: 'string', maxLength: 256 },
    ...CSRF_FIELD,
  },
} as const;
const codeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['code'],
  properties: { code: { type: 'string', minLength: 1, maxLength: 12 }, ...CSRF_FIELD },
} as const;
const createUserBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    role: ROLE,
    merchants: MERCHANTS,
    password: { type: 'string', maxLength: 256 },
    ...CSRF_FIELD,
  },
} as const;
const changeUserBody = {
  type: 'object',
  additionalProperties: false,
  properties: { role: ROLE, merchants: MERCHANTS, ...CSRF_FIELD },
} as const;
const emptyBody = { type: 'object', additionalProperties: false, properties: CSRF_FIELD } as const;
const userParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;
const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    action: { type: 'string', maxLength: 64 },
    actor: { type: 'string', maxLength: 64 },
    target: { type: 'string', maxLength: 200 },
    before: { type: 'string', pattern: '^[0-9]{1,15}$' },
    from: { type: 'string', pattern: '^([0-9]{4}-[0-9]{2}-[0-9]{2})?$' },
    to: { type: 'string', pattern: '^([0-9]{4}-[0-9]{2}-[0-9]{2})?$' },
    lang: { type: 'string', enum: ['zh', 'en'] },
  },
} as const;

/** A form's merchant field (ids separated by spaces or commas) or a JSON list. */
function merchantList(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : value.split(/[\s,]+/).filter(Boolean);
}

/** A form's date (YYYY-MM-DD) as the start of that UTC day, plus some days; 40001 for anything else. */
export function dayStart(value: string | undefined, field: string, plusDays = 0): Date | undefined {
  if (!value) return undefined;
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value)
    throw new PayError(40001, { field, message: `${field} must be a date YYYY-MM-DD` });
  return new Date(date.getTime() + plusDays * 86_400_000);
}

export const consoleRoutes: FastifyPluginAsync<ConsoleRoutesOptions> = async (scope, options) => {
  const { vkPay, production } = options;
  const now = options.now ?? (() => new Date());
  const deps: ConsoleDeps = { db: vkPay.store.db, cache: vkPay.cache, box: vkPay.context.webhooks.box, now };
  const cookies = { production };
  const origins = options.origins ?? [];

  await scope.register(cookie);
  await scope.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: CONSOLE_PATH, httpOnly: true, sameSite: 'strict', secure: production },
  });
  installTextGuard(scope);
  scope.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => {
      const fields: Record<string, string> = {};
      for (const [name, value] of new URLSearchParams(body as string)) fields[name] = value;
      done(null, fields);
    },
  );
  scope.decorateRequest('console', null as never);

  scope.addHook('onRequest', async (request, reply) => {
    const { lang, fromQuery } = consoleLang(request);
    request.console = {
      sessionId: null,
      active: null,
      lang,
      langFromQuery: fromQuery,
      secondFactorRequired: production,
    };
    reply.headers(PAGE_HEADERS);
    if (request.url.startsWith(`${CONSOLE_PATH}/assets/`)) return;
    const id = request.cookies[SESSION_COOKIE];
    if (!id) return;
    const active = await activeSession(deps.db, id, now());
    if (active) {
      request.console.sessionId = id;
      request.console.active = active;
    } else {
      clearSessionCookie(request, reply, cookies);
    }
  });

  // Same origin and the CSRF token, before the body is even validated: a forged request learns nothing.
  scope.addHook('preValidation', (request, reply, done) => {
    if (request.method === 'GET' || request.method === 'HEAD') {
      done();
      return;
    }
    try {
      checkSameOrigin(request, origins);
    } catch (error) {
      done(error as Error);
      return;
    }
    scope.csrfProtection(request, reply, done);
  });

  /** Pages for a browser, or their data (and a CSRF token for the next change) for anything else. */
  const { answer, csrfToken, pageContext: context } = consolePageKit(production);

  /** A fresh CSRF secret: the one a browser had before signing in is not carried over. */
  const renewCsrf = (request: FastifyRequest, reply: FastifyReply) => {
    delete request.cookies[CSRF_COOKIE];
    return csrfToken(request, reply);
  };

  const redirect = (request: FastifyRequest, reply: FastifyReply, path: string) =>
    reply.redirect(consoleHref(request, path), 303);

  const originOf = (request: FastifyRequest): Origin => ({
    ip: request.ip,
    userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null,
  });
  const actorOf = (request: FastifyRequest): Actor => {
    const user = consoleUser(request);
    return { id: user.id, name: user.name, ...originOf(request) };
  };

  scope.setErrorHandler(async (error: FastifyError, request, reply) => {
    let problem: unknown = error;
    if (typeof error.code === 'string' && error.code.startsWith('FST_CSRF_'))
      problem = new PayError(40009, {
        message: 'the CSRF token is missing or wrong: reload the console page and try again',
      });
    if (!wantsHtml(request)) return answerError(problem as FastifyError, request, reply);
    if (problem instanceof SignInRequired) {
      const target = { login: '/console/login', totp: '/console/totp', enrol: '/console/totp/enrol' }[
        problem.where
      ];
      return redirect(request, reply, target);
    }
    if (!request.console) return answerError(problem as FastifyError, request, reply);
    // The framework's own client errors (a form field missing, a body too large, an unknown
    // content type) are the browser's mistake, shown on the page with their 4xx status.
    const clientStatus =
      !(problem instanceof PayError) &&
      (error.validation ||
        (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500))
        ? (error.statusCode ?? 400)
        : null;
    if (clientStatus !== null)
      problem = new PayError(clientStatus === 429 ? 40008 : 40001, { message: error.message });
    const result = failure(problem, request);
    if (result.status >= 500) request.log.error({ err: error }, 'console request failed');
    const retryAfter = (result.payError.details as { retryAfterSeconds?: unknown } | undefined)
      ?.retryAfterSeconds;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    const status = clientStatus ?? result.status;
    const message = result.body.reason ? `${result.body.msg}: ${result.body.reason}` : result.body.msg;
    return reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(errorPage(await context(request, reply, request.url), message, '/console'));
  });

  scope.setNotFoundHandler(async (request, reply) => {
    const problem = new PayError(40001, {
      message: `no console page ${request.url.split('?')[0]?.slice(0, 200)}`,
    });
    if (!wantsHtml(request) || !request.console) {
      return reply
        .status(404)
        .send({ ...problem.toResult(request.console?.lang ?? 'zh'), requestId: request.id });
    }
    return reply
      .status(404)
      .type('text/html; charset=utf-8')
      .send(errorPage(await context(request, reply, '/console'), problem.message, '/console'));
  });

  scope.get('/assets/:file', async (request, reply) => {
    const { file } = request.params as { file: string };
    const loaded = await consoleAssets();
    const match = /^console\.([0-9a-f]{12})\.(js|css)$/.exec(file);
    const found = match?.[2] === 'js' ? loaded.script : match?.[2] === 'css' ? loaded.style : null;
    if (!found || found.hash !== match?.[1])
      throw new PayError(40001, { message: `no console asset ${file.slice(0, 100)}` });
    return reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(found.type)
      .send(found.body);
  });

  // Sign-in.

  scope.get('/login', async (request, reply) => {
    if (request.console.active?.session.stage === 'full') return redirect(request, reply, '/console');
    return answer(request, reply, { path: '/console/login', data: {}, page: (ctx) => loginPage(ctx) });
  });

  scope.post('/login', { schema: { body: loginBody } }, async (request, reply) => {
    const { name, password } = request.body as { name: string; password: string };
    const lang = request.console.lang;
    let result: Awaited<ReturnType<typeof signIn>>;
    try {
      // A session id the browser brought is ended, never promoted: sign-in always makes a new one.
      result = await signIn(
        deps,
        { name, password, replaces: request.cookies[SESSION_COOKIE] ?? null },
        originOf(request),
      );
    } catch (error) {
      const problem = toPayError(error);
      if (!wantsHtml(request) || (problem.code !== 40002 && problem.code !== 40008)) throw error;
      const retryAfter = (problem.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      if (retryAfter) reply.header('retry-after', String(retryAfter));
      const message =
        problem.code === 40008
          ? text(lang, 'throttled', { s: retryAfter ?? 60 })
          : text(lang, 'wrongPassword');
      return answer(request, reply, {
        status: problem.httpStatus,
        path: '/console/login',
        data: {},
        page: (ctx) => loginPage(ctx, { error: message, name }),
      });
    }
    setSessionCookie(request, reply, cookies, result.sessionId);
    const token = renewCsrf(request, reply);
    const next =
      result.stage === 'totp'
        ? '/console/totp'
        : needsEnrolment(request, result.user)
          ? '/console/totp/enrol'
          : '/console';
    if (wantsHtml(request)) return redirect(request, reply, next);
    return ok({ user: publicUser(result.user), stage: result.stage, next, csrfToken: token });
  });

  scope.post('/logout', { schema: { body: emptyBody } }, async (request, reply) => {
    const { active, sessionId } = request.console;
    if (active && sessionId) await signOut(deps, active, sessionId, originOf(request));
    clearSessionCookie(request, reply, cookies);
    const token = renewCsrf(request, reply);
    if (wantsHtml(request)) return redirect(request, reply, '/console/login');
    return ok({ signedOut: true, csrfToken: token });
  });

  // One's own password.

  scope.get('/password', { preHandler: requireRole('viewer') }, async (request, reply) => {
    const changed = (request.query as { changed?: unknown }).changed === '1';
    const notice = changed ? text(request.console.lang, 'passwordChanged') : undefined;
    return answer(request, reply, {
      path: '/console/password',
      data: {},
      page: (ctx) => passwordPage(ctx, notice ? { notice } : {}),
    });
  });

  scope.post(
    '/password',
    { preHandler: requireRole('viewer'), schema: { body: passwordBody } },
    async (request, reply) => {
      const { active, sessionId } = request.console;
      const body = request.body as { current: string; password: string; confirm?: string };
      const lang = request.console.lang;
      const again = (status: number, field: 'current' | 'password' | 'confirm', error: string) =>
        answer(request, reply, {
          status,
          path: '/console/password',
          data: {},
          page: (ctx) => passwordPage(ctx, { error, field }),
        });
      if (body.confirm !== undefined && body.confirm !== body.password) {
        if (!wantsHtml(request))
          throw new PayError(40001, { field: 'confirm', message: 'the two new passwords differ' });
        return again(400, 'confirm', text(lang, 'passwordsDiffer'));
      }
      let newId: string;
      try {
        newId = await changePassword(
          deps,
          active!,
          sessionId!,
          { current: body.current, next: body.password },
          originOf(request),
        );
      } catch (error) {
        const problem = toPayError(error);
        if (!wantsHtml(request) || ![40001, 40002, 40008].includes(problem.code)) throw error;
        const retryAfter = (problem.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
        if (retryAfter) reply.header('retry-after', String(retryAfter));
        const message =
          problem.code === 40008
            ? text(lang, 'throttled', { s: retryAfter ?? 60 })
            : problem.code === 40002
              ? text(lang, 'wrongCurrentPassword')
              : text(lang, 'passwordTooShort');
        return again(problem.httpStatus, problem.code === 40001 ? 'password' : 'current', message);
      }
      setSessionCookie(request, reply, cookies, newId);
      const token = renewCsrf(request, reply);
      if (wantsHtml(request)) return redirect(request, reply, '/console/password?changed=1');
      return ok({ changed: true, csrfToken: token });
    },
  );

  // The second factor.

  /** The session waiting for its second factor. */
  const pendingSession = (request: FastifyRequest) => {
    const { active, sessionId } = request.console;
    if (!active || !sessionId) throw new SignInRequired('login');
    if (active.session.stage !== 'totp') throw new PayError(40001, { message: 'no second factor is due' });
    return { active, sessionId };
  };

  scope.get('/totp', async (request, reply) => {
    if (request.console.active?.session.stage === 'full') return redirect(request, reply, '/console');
    pendingSession(request);
    return answer(request, reply, { path: '/console/totp', data: {}, page: (ctx) => totpPage(ctx) });
  });

  scope.post('/totp', { schema: { body: codeBody } }, async (request, reply) => {
    const { active, sessionId } = pendingSession(request);
    const { code } = request.body as { code: string };
    let newId: string;
    try {
      newId = await completeSecondFactor(deps, active, sessionId, code.trim(), originOf(request));
    } catch (error) {
      const problem = toPayError(error);
      if (!wantsHtml(request) || (problem.code !== 40002 && problem.code !== 40008)) throw error;
      const retryAfter = (problem.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      if (retryAfter) reply.header('retry-after', String(retryAfter));
      const lang = request.console.lang;
      return answer(request, reply, {
        status: problem.httpStatus,
        path: '/console/totp',
        data: {},
        page: (ctx) =>
          totpPage(ctx, {
            error:
              problem.code === 40008
                ? text(lang, 'throttled', { s: retryAfter ?? 60 })
                : text(lang, 'wrongCode'),
          }),
      });
    }
    setSessionCookie(request, reply, cookies, newId);
    const token = renewCsrf(request, reply);
    const next = needsEnrolment(request, active.user) ? '/console/totp/enrol' : '/console';
    if (wantsHtml(request)) return redirect(request, reply, next);
    return ok({ user: publicUser(active.user), stage: 'full', next, csrfToken: token });
  });

  /** The signed-in session enrolling: allowed before the admin-needs-TOTP rule lets anything else. */
  const enrollingSession = (request: FastifyRequest) => {
    const user = consoleUser(request);
    if (user.totp_secret !== null)
      throw new PayError(40001, {
        message: 'two-step verification is on already; an admin can reset it to enrol again',
      });
    return { active: request.console.active!, sessionId: request.console.sessionId! };
  };

  const enrolView = async (request: FastifyRequest, reply: FastifyReply, status: number, error?: string) => {
    const { active, sessionId } = enrollingSession(request);
    const enrolment = await startEnrolment(deps, active, sessionId);
    const qr = await QRCode.toString(enrolment.uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
    const qrSvg = qr.replace('<svg ', '<svg role="img" aria-label="QR code" ');
    return answer(request, reply, {
      status,
      path: '/console/totp/enrol',
      data: { uri: enrolment.uri, secret: enrolment.secret },
      page: (ctx) =>
        enrolPage(ctx, {
          ...enrolment,
          qrSvg,
          required: needsEnrolment(request, active.user),
          ...(error ? { error } : {}),
        }),
    });
  };

  scope.get('/totp/enrol', async (request, reply) => enrolView(request, reply, 200));

  scope.post('/totp/enrol', { schema: { body: codeBody } }, async (request, reply) => {
    const { active } = enrollingSession(request);
    const { code } = request.body as { code: string };
    let newId: string;
    try {
      newId = await confirmEnrolment(deps, active, code.trim(), originOf(request));
    } catch (error) {
      if (!wantsHtml(request) || toPayError(error).code !== 40001) throw error;
      return enrolView(request, reply, 400, text(request.console.lang, 'wrongCode'));
    }
    setSessionCookie(request, reply, cookies, newId);
    const token = renewCsrf(request, reply);
    if (wantsHtml(request)) return redirect(request, reply, '/console?enrolled=1');
    return ok({ totp: true, csrfToken: token });
  });

  // The shell, unless one of the pages serves the overview at the console's root (registered last).

  const shell = async (request: FastifyRequest, reply: FastifyReply) => {
    const user = publicUser(consoleUser(request));
    const enrolled = (request.query as { enrolled?: unknown }).enrolled === '1';
    return answer(request, reply, {
      path: '/console',
      data: { user },
      page: (ctx) => overviewPage(ctx, user, enrolled ? text(ctx.lang, 'enrolled') : undefined),
    });
  };

  // Users (admin).

  const usersView = async (
    request: FastifyRequest,
    reply: FastifyReply,
    state: { status?: number; notice?: string; created?: { name: string; password: string } },
    data: Record<string, unknown> = {},
  ) => {
    const users = await listUsers(deps.db);
    return answer(request, reply, {
      ...(state.status ? { status: state.status } : {}),
      path: '/console/users',
      data: { users, ...data },
      page: (ctx) =>
        usersPage(ctx, users, {
          ...(state.notice ? { notice: state.notice } : {}),
          ...(state.created ? { created: state.created } : {}),
        }),
    });
  };

  scope.get('/users', { preHandler: requireRole('admin') }, async (request, reply) =>
    usersView(request, reply, {
      ...((request.query as { done?: unknown }).done === '1'
        ? { notice: text(request.console.lang, 'changed') }
        : {}),
    }),
  );

  scope.post(
    '/users',
    { preHandler: requireRole('admin'), schema: { body: createUserBody } },
    async (request, reply) => {
      const body = request.body as {
        name: string;
        role: ConsoleRole;
        merchants?: string | string[];
        password?: string;
      };
      const merchantIds = merchantList(body.merchants);
      const created = await createUser(deps.db, actorOf(request), {
        name: body.name,
        role: body.role,
        ...(merchantIds ? { merchantIds } : {}),
        ...(body.password ? { password: body.password } : {}),
      });
      // The password is shown this once, to the admin who made the account.
      return usersView(
        request,
        reply,
        { status: 201, created: { name: created.user.name, password: created.password } },
        { user: created.user, password: created.password },
      );
    },
  );

  /** An admin changes others: an own account is changed from the command line, so no one locks themselves out. */
  const otherUser = (request: FastifyRequest) => {
    const name = checkName((request.params as { name: string }).name);
    if (name === consoleUser(request).name)
      throw new PayError(40001, {
        field: 'name',
        message: 'your own account is changed with the vk-pay console command, not here',
      });
    return name;
  };

  const afterChange = (request: FastifyRequest, reply: FastifyReply, user: unknown) =>
    wantsHtml(request)
      ? redirect(request, reply, '/console/users?done=1')
      : ok({ user, csrfToken: csrfToken(request, reply) });

  scope.post(
    '/users/:name',
    { preHandler: requireRole('admin'), schema: { params: userParams, body: changeUserBody } },
    async (request, reply) => {
      const name = otherUser(request);
      const body = request.body as { role?: ConsoleRole; merchants?: string | string[] };
      const merchantIds = merchantList(body.merchants);
      const user = await changeUser(deps.db, actorOf(request), name, {
        ...(body.role ? { role: body.role } : {}),
        ...(merchantIds ? { merchantIds } : {}),
      });
      return afterChange(request, reply, user);
    },
  );

  scope.post(
    '/users/:name/disable',
    { preHandler: requireRole('admin'), schema: { params: userParams, body: emptyBody } },
    async (request, reply) =>
      afterChange(request, reply, await disableUser(deps.db, actorOf(request), otherUser(request))),
  );

  scope.post(
    '/users/:name/reset-totp',
    { preHandler: requireRole('admin'), schema: { params: userParams, body: emptyBody } },
    async (request, reply) =>
      afterChange(request, reply, await resetTotp(deps.db, actorOf(request), otherUser(request))),
  );

  // The audit log (admin).

  scope.get(
    '/audit',
    { preHandler: requireRole('admin'), schema: { querystring: auditQuery } },
    async (request, reply) => {
      const query = request.query as {
        action?: string;
        actor?: string;
        target?: string;
        before?: string;
        from?: string;
        to?: string;
      };
      const page = await listAudit(deps.db, {
        action: query.action || undefined,
        actor: query.actor || undefined,
        target: query.target || undefined,
        before: query.before ? Number(query.before) : undefined,
        from: dayStart(query.from, 'from'),
        to: dayStart(query.to, 'to', 1),
      });
      const filter = {
        ...(query.action ? { action: query.action } : {}),
        ...(query.actor ? { actor: query.actor } : {}),
        ...(query.target ? { target: query.target } : {}),
        ...(query.from ? { from: query.from } : {}),
        ...(query.to ? { to: query.to } : {}),
      };
      return answer(request, reply, {
        path: '/console/audit',
        data: { rows: page.rows, next: page.next },
        page: (ctx) => auditPage(ctx, { ...page, filter }),
      });
    },
  );

  const kit: ConsolePageKit = { vkPay, answer, redirect, actorOf, csrfToken, dayStart };
  for (const pages of options.pages ?? []) await pages(scope, kit);
  if (!scope.hasRoute({ method: 'GET', url: scope.prefix || '/' }))
    scope.get('/', { preHandler: requireRole('viewer') }, shell);
};
