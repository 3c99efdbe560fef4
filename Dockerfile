# syntax=docker/dockerfile:1
# VK-Pay service image: `docker build -t vk-pay .`, then see deploy/compose.yaml and docs/deploy.md.
# The service runs its TypeScript sources compiled by esbuild (a runtime dependency); the build
# stage compiles them once, so the running container writes nothing outside its data folder.

FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# Compiles src/cli/main.ts into dist/ under the name the service looks for at start (the name is
# the content's hash, and the content depends on the working folder: keep WORKDIR /app below).
RUN node bin/vk-pay.mjs help >/dev/null && ls dist/src-cli-main-ts.*.mjs

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    VKPAY_HOST=0.0.0.0 \
    VKPAY_PORT=3000 \
    VKPAY_ADMIN_PORT=9464 \
    VKPAY_DATA_DIR=/var/lib/vk-pay
WORKDIR /app
# Code and dependencies belong to root and are read-only to the service's user.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
# The data folder: the embedded database (without DATABASE_URL) and nothing else in production.
RUN mkdir -p /var/lib/vk-pay && chown node:node /var/lib/vk-pay && chmod 700 /var/lib/vk-pay
VOLUME ["/var/lib/vk-pay"]
USER node
EXPOSE 3000 9464
# Liveness: GET /healthz on the admin listener (plain HTTP, loopback allowed), else on the service port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/healthcheck.mjs"]
# SIGTERM (docker stop) lets the service finish its requests and release its locks.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/vk-pay.mjs"]
CMD ["serve"]
