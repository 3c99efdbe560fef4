/**
 * Who is asking, and what they may do: the console's session cookie, the roles, the merchant
 * scope, and the checks every state-changing request passes (same origin, CSRF token). Routes
 * added to the console take `requireRole` as a preHandler and filter by `merchantScope`.
 */
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { type Lang, PayError } from '../core/errors.ts';
import type { ActiveSession } from '../service/console/sessions.ts';
import type { ConsoleRole, ConsoleUserRow } from '../store/schema.ts';
import { languageOf } from './envelope.ts';

export const SESSION_COOKIE = 'vkpay_console';
export const CSRF_COOKIE = 'vkpay_console_csrf';
export const CONSOLE_PATH = '/console';

export interface ConsoleRequestState {
  /** The id the cookie carries, when it names a live session. */
  sessionId: string | null;
  active: ActiveSession | null;
  lang: Lang;
  /** Whether the lang came from ?lang=, so links keep it. */
  langFromQuery: boolean;
  /** The admin-without-TOTP rule applies (production). */
  secondFactorRequired: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    console: ConsoleRequestState;
  }
}

const RANK: Record<ConsoleRole, number> = { viewer: 1, operator: 2, admin: 3 };

/** Whether the request would rather have a page than JSON: a browser navigating or posting a form. */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

/** ?lang=en or ?lang=zh, else the browser's Accept-Language. */
export function consoleLang(request: FastifyRequest): { lang: Lang; fromQuery: boolean } {
  const query = request.query as Record<string, unknown> | undefined;
  const asked = query?.lang;
  if (asked === 'en' || asked === 'zh') return { lang: asked, fromQuery: true };
  return { lang: languageOf(request), fromQuery: false };
}

/** A console path with the page's explicit language kept. */
export function consoleHref(request: FastifyRequest, path: string): string {
  if (!request.console?.langFromQuery) return path;
  return `${path}${path.includes('?') ? '&' : '?'}lang=${request.console.lang}`;
}

/** Thrown where a page needs a signed-in operator; the error handler sends browsers to sign in. */
export class SignInRequired extends PayError {
  constructor(readonly where: 'login' | 'totp' | 'enrol') {
    super(where === 'enrol' ? 40009 : 40002, {
      message:
        where === 'login'
          ? 'sign in to the console first'
          : where === 'totp'
            ? 'enter the code of your authenticator first'
            : 'set up a second factor (TOTP) first: admins need one in production',
    });
  }
}

/** The signed-in operator, past the second factor when the account has one. */
export function consoleUser(request: FastifyRequest): ConsoleUserRow {
  const active = request.console?.active;
  if (!active) throw new SignInRequired('login');
  if (active.session.stage !== 'full') throw new SignInRequired('totp');
  return active.user;
}

/** Admins in production work with a second factor, or only on enrolling one. */
export function needsEnrolment(request: FastifyRequest, user: ConsoleUserRow): boolean {
  return request.console.secondFactorRequired && user.role === 'admin' && user.totp_secret === null;
}

/**
 * A preHandler letting through operators of `role` or above: viewer reads, operator acts on
 * orders (refunds, closes, reviews, replays), admin manages users and settings.
 */
export function requireRole(role: ConsoleRole): preHandlerAsyncHookHandler {
  return async (request) => {
    const user = consoleUser(request);
    if (needsEnrolment(request, user)) throw new SignInRequired('enrol');
    if (RANK[user.role] < RANK[role])
      throw new PayError(40009, { message: `this needs the ${role} role; ${user.name} is ${user.role}` });
  };
}

/** The merchants the operator may see and act on; null: every merchant. */
export function merchantScope(request: FastifyRequest): readonly string[] | null {
  return consoleUser(request).merchant_ids;
}

export function mayActOn(request: FastifyRequest, merchantId: string): boolean {
  const scope = merchantScope(request);
  return scope === null || scope.includes(merchantId);
}

/**
 * Refuses a merchant outside the operator's scope as if it did not exist (40005), so a scoped
 * operator learns nothing of other merchants' orders.
 */
export function requireMerchant(request: FastifyRequest, merchantId: string): void {
  if (!mayActOn(request, merchantId))
    throw new PayError(40005, { field: 'merchant_id', message: 'no such order among your merchants' });
}

/** The origin this request was sent to, as a browser would write it. */
function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * A state-changing request must come from a console page: its Origin (or Referer) is this
 * service, and the browser does not call it cross-site. The CSRF token is checked after this.
 */
export function checkSameOrigin(request: FastifyRequest, allowed: readonly string[]): void {
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite === 'cross-site' || fetchSite === 'same-site')
    throw new PayError(40009, { message: 'cross-site requests to the console are refused' });
  const origin = request.headers.origin;
  let claimed: string | null = typeof origin === 'string' ? origin : null;
  if (claimed === null && typeof request.headers.referer === 'string') {
    try {
      claimed = new URL(request.headers.referer).origin;
    } catch {
      claimed = 'null';
    }
  }
  if (claimed !== null && claimed !== ownOrigin(request) && !allowed.includes(claimed))
    throw new PayError(40009, { message: 'requests to the console must come from its own pages' });
}

export interface CookieSettings {
  production: boolean;
}

/** Secure in production and whenever the browser reached us over HTTPS. */
export function cookieOptions(request: FastifyRequest, settings: CookieSettings) {
  return {
    path: CONSOLE_PATH,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: settings.production || request.protocol === 'https',
  };
}

export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  settings: CookieSettings,
  sessionId: string,
): void {
  reply.setCookie(SESSION_COOKIE, sessionId, cookieOptions(request, settings));
}

export function clearSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  settings: CookieSettings,
): void {
  reply.clearCookie(SESSION_COOKIE, cookieOptions(request, settings));
}
