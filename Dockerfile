# digest-pinner webhook image: Node 24 LTS and the bundled program (dist/main.js and its
# chunks; its npm dependencies are inside, so no node_modules), non-root.
#
# CI and the release build it with scripts/image/build.sh (buildah, amd64 and arm64):
# BASE_IMAGE is then the base scripts/image/rootfs.sh assembles from Debian's packages and
# the npm registry's Node binary (no shell, no npm), named by digest, and DIST=context takes
# the dist/ that `npm run build` made on the host. With Docker alone, `docker build .`
# builds dist/ in the build stage and runs on node:24-bookworm-slim; any base with
# /usr/local/bin/node (Node 24) will do.
ARG BASE_IMAGE=node:24-bookworm-slim
ARG BUILD_IMAGE=node:24-bookworm-slim
# build: the stage below; context: dist/ as built on the host.
ARG DIST=build

FROM --platform=$BUILDPLATFORM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM scratch AS context
COPY dist /src/dist

FROM ${DIST} AS dist

# No RUN from here on, so an arm64 image is assembled on any host, without emulation.
FROM ${BASE_IMAGE}
ENV NODE_ENV=production
# glibc gives each thread that allocates (V8's GC helpers among them) its own malloc arena, and
# memory freed in one is not reused by another: 2 arenas lower the peak with a full cache, at no
# measurable cost in throughput (bench/).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=dist /src/dist ./dist
COPY package.json ./
# The uid the manifests' securityContext expects (runAsNonRoot, readOnlyRootFilesystem).
USER 10001:10001
# The webhook (HTTPS) and its metrics and probes (plain HTTP).
EXPOSE 8443 9090
# The V8 heap is not capped here: it depends on the memory limit, so the chart sets it
# (NODE_OPTIONS=--max-old-space-size, 5/8 of resources.limits.memory). The young generation's
# semi-spaces do not: 2 MiB (default 16) keep its share of a small heap small, for a few per cent
# of throughput (bench/). On the command line, so a NODE_OPTIONS from the pod's env adds to it.
ENTRYPOINT ["/usr/local/bin/node", "--max-semi-space-size=2", "/app/dist/main.js"]
CMD ["serve", "--tls-cert", "/etc/digest-pinner/tls/tls.crt", "--tls-key", "/etc/digest-pinner/tls/tls.key"]
