# digest-pinner webhook image: Node 24 LTS, the bundled program (dist/main.js and its
# chunks; its npm dependencies are inside, so no node_modules), non-root.
# CI runs the same files the same way (test/smoke/production.sh), since no container
# engine runs there.
# Base images are named by tag here; a release pins them by digest (digest-pinner resolve).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# V8 heap sized for the manifests' 256Mi memory limit. Uncapped, Node sizes the heap from the
# cgroup limit, which at 256Mi lets the heap alone reach about 256 MiB (nodejs/node#64646): a full
# cache's garbage then takes the process past the limit before V8 collects it. 2 MiB semi-spaces
# (default 16) keep the young generation's share small. Measured with 100,000 cached digests
# (bench/memory.mjs, Node 20, this bundle): peak RSS about 146 MiB with these flags, 262 MiB
# without; semi-spaces of 4 and 8 MiB peak about 6 and 25 MiB higher, for roughly 5-10% more
# reviews per CPU-second at saturation (fewer young-generation collections). Raise
# --max-old-space-size with limits.memory: NODE_OPTIONS in the pod's env replaces this default.
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=160"
# glibc gives each thread that allocates (V8's GC helpers among them) its own malloc arena, and
# memory freed in one is not reused by another: 2 arenas took the same peak down by about 7 MiB,
# at no measurable cost in throughput.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /src/dist ./dist
COPY package.json ./
# The uid the manifests' securityContext expects (runAsNonRoot, readOnlyRootFilesystem).
USER 10001:10001
EXPOSE 8443
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["serve", "--tls-cert", "/etc/digest-pinner/tls/tls.crt", "--tls-key", "/etc/digest-pinner/tls/tls.key"]
