# syntax=docker/dockerfile:1
# teamkeys: build with `make image` (docker build -t teamkeys:dev .). Node 24 LTS, production dependencies only,
# runs as a non-root user and needs no writable filesystem (the Deployment sets readOnlyRootFilesystem).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && find dist -name "*.map" -delete

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json ./
COPY --from=build --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["operator"]
