/**
 * What a console page plugin registered through `pages` needs from the console's scope: a page for
 * a browser or the envelope for anything else (with a CSRF token for the next change), a redirect
 * that keeps the page's language, and the acting operator for the audit row.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../service/console/audit.ts';
import { consoleHref, consoleUser, cookieOptions, wantsHtml } from '../console-access.ts';
import { assetUrls, consoleAssets } from '../console-assets.ts';
import type { PageContext } from '../console-pages.ts';
import { ok } from '../envelope.ts';

export interface PageView {
  status?: number;
  path: string;
  data: Record<string, unknown>;
  page(ctx: PageContext): string;
}

export interface ConsolePageKit {
  answer(request: FastifyRequest, reply: FastifyReply, view: PageView): Promise<FastifyReply>;
  redirect(request: FastifyRequest, reply: FastifyReply, path: string): FastifyReply;
  actorOf(request: FastifyRequest): Actor;
  csrfToken(request: FastifyRequest, reply: FastifyReply): string;
  /** What every console page is rendered with: language, links, assets, CSRF token, who is signed in. */
  pageContext(request: FastifyRequest, reply: FastifyReply, path: string): Promise<PageContext>;
}

export function consolePageKit(production: boolean): ConsolePageKit {
  const csrfToken = (request: FastifyRequest, reply: FastifyReply) =>
    reply.generateCsrf({ secure: cookieOptions(request, { production }).secure });

  const context = async (
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
  ): Promise<PageContext> => {
    const active = request.console?.active;
    const signedIn = active && active.session.stage === 'full' ? active.user : undefined;
    return {
      lang: request.console?.lang ?? 'zh',
      href: (target) => consoleHref(request, target),
      assets: assetUrls(await consoleAssets()),
      csrf: csrfToken(request, reply),
      user: signedIn ? { name: signedIn.name, role: signedIn.role } : undefined,
      path,
    };
  };

  return {
    csrfToken,
    pageContext: context,
    async answer(request, reply, view) {
      reply.status(view.status ?? 200);
      if (wantsHtml(request))
        return reply
          .type('text/html; charset=utf-8')
          .send(view.page(await context(request, reply, view.path)));
      return reply.send(ok({ ...view.data, csrfToken: csrfToken(request, reply) }));
    },
    redirect: (request, reply, path) => reply.redirect(consoleHref(request, path), 303),
    actorOf(request) {
      const user = consoleUser(request);
      return {
        id: user.id,
        name: user.name,
        ip: request.ip,
        userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null,
      };
    },
  };
}
