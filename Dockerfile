# hookgate: the webhook gateway image.
#   docker build -t hookgate:dev .                                (current Node LTS)
#   docker build --build-arg NODE_VERSION=22 -t hookgate:dev .
# The runtime stage holds the compiled JS, the production node_modules and nothing else. It runs
# as a numeric non-root user and writes nothing outside /tmp, so it works with
# readOnlyRootFilesystem (mount an emptyDir on /tmp, and a volume on /var/lib/hookgate for an
# on-disk embedded ledger).
ARG NODE_VERSION=24
ARG BASE_VARIANT=bookworm-slim

# Build: every dependency (TypeScript among them), then compile to dist/.
# python3/make/g++: better-sqlite3 is a native addon; npm ci takes a prebuilt binary when one
# matches the Node ABI and compiles it from source when none does (or when offline).
FROM node:${NODE_VERSION}-${BASE_VARIANT} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts=false --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# Production dependencies only, exactly as the lockfile says, built on the runtime's base image
# so the native addon matches its libc and Node ABI. (Same toolchain layer as above: cached once.)
FROM node:${NODE_VERSION}-${BASE_VARIANT} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts=false --no-audit --no-fund \
 && npm cache clean --force

FROM node:${NODE_VERSION}-${BASE_VARIANT} AS runtime
ENV NODE_ENV=production
# V8's heap sized the same whatever the container's limit (Node sizes it from the limit): the young
# generation at most 8 MB (too small under 1 GiB costs CPU, large without a limit costs RSS), the old
# at most 256 MB, as Node gives it in the chart's 256Mi (with Node's 4 GB, V8 lets garbage grow to
# several times the live heap between collections). docs/operations.md, Memory.
# Set NODE_OPTIONS (the chart: hookgate.env) to change it.
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=256"
# A fixed numeric uid/gid (above the usual host range) so Kubernetes' runAsNonRoot can verify
# it. The application files stay owned by root: the process cannot change its own code.
RUN groupadd --system --gid 10001 hookgate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin hookgate \
 && mkdir -p /etc/hookgate /var/lib/hookgate \
 && chown 10001:10001 /var/lib/hookgate
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json package-lock.json ./
COPY bin ./bin
USER 10001:10001
# traffic; admin (/healthz /readyz /metrics)
EXPOSE 8080 9090
# Exec form straight to node (no shell, no npm in between): node is PID 1 and receives the
# kubelet's SIGTERM itself, which the graceful drain relies on.
ENTRYPOINT ["node", "bin/hookgate.js"]
CMD ["run", "--config", "/etc/hookgate/hookgate.yaml"]
