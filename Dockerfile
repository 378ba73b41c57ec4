# digest-pinner webhook image: Node 24 LTS, production dependencies only, non-root.
# CI runs the same production install and start command (test/smoke/production.sh),
# since no container engine runs there.
# Base images are named by tag here; a release pins them by digest (digest-pinner resolve).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# The uid the manifests' securityContext expects (runAsNonRoot, readOnlyRootFilesystem).
USER 10001:10001
EXPOSE 8443
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["serve", "--tls-cert", "/etc/digest-pinner/tls/tls.crt", "--tls-key", "/etc/digest-pinner/tls/tls.key"]
