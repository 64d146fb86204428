# Shoal in a container image. Not built or run by CI (it has no Docker
# daemon); README "Running it" says how to use it.
#
#   docker build -t shoal .
#   docker run -p 1883:1883 -v shoal-data:/var/lib/shoal shoal --host 0.0.0.0 --data-dir /var/lib/shoal --allow-anonymous true
#
# Stage 1 compiles what is published (npm run build:release: src and workers
# into dist/); stage 2 holds Node 20, the production dependencies and dist/,
# and runs as the unprivileged user shoal with its state in the volume
# /var/lib/shoal.

FROM node:20-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build:release

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /opt/shoal
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /build/dist ./dist
COPY README.md LICENSE ./
RUN groupadd --system shoal \
  && useradd --system --gid shoal --home-dir /var/lib/shoal --no-create-home --shell /usr/sbin/nologin shoal \
  && mkdir -p /var/lib/shoal \
  && chown shoal:shoal /var/lib/shoal
USER shoal
VOLUME /var/lib/shoal
# MQTT; and where the README's examples put WebSocket, TLS, WSS and the
# monitoring server (each off unless --ws-port, --tls-port, --wss-port,
# --metrics-port or the config file turns it on).
EXPOSE 1883 8083 8883 8884 9464
# No HEALTHCHECK: the monitoring server is off by default. With --metrics-port 9464:
#   HEALTHCHECK CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/opt/shoal/dist/src/main/cli/main.js"]
# Every listener on all addresses: anonymous clients are then refused unless
# a config file (--config) authenticates them or --allow-anonymous true says so.
CMD ["--host", "0.0.0.0", "--data-dir", "/var/lib/shoal"]
