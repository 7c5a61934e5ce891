# syntax=docker/dockerfile:1
# teamkeys: `make image` (docker, else podman). Node 24 LTS, production dependencies only, compiled JavaScript,
# a runtime image with neither shell nor npm, a non-root user, no writable paths (readOnlyRootFilesystem).
# The bases are arguments so machines without a registry can build the same file from local bases
# (hack/image-bases.sh); node must be /nodejs/bin/node in the runtime base, as in distroless.
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# production dependencies only, without what only compilers and editors read (types, source maps, docs)
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && rm -rf node_modules/@types \
 && find dist node_modules -type f \( -name "*.map" -o -name "*.d.ts" -o -name "*.d.[cm]ts" -o -name "*.md" \) -delete

FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production
# one malloc arena, and blocks of 32 KB and more (the sockets' 64 KB read buffers among them) mapped on their own,
# given back when freed: the native memory of 10,000 members stays 15-25 MB smaller than with two arenas, 30-50 MB
# smaller than with one per thread, and (3,000 members) 10 MB smaller after a restart than with 128 KB (measured;
# docs/operations.md, "Sizing")
ENV MALLOC_ARENA_MAX=1 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=32768
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json ./
COPY --from=build --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
USER 10001:10001
EXPOSE 8080
# a 2 MB young generation (semi-space) instead of V8's up to 64 MB: 36 MB less RSS idle, 60-190 MB less at 10,000
# members, for about 14% more CPU in a burst; --optimize-for-size (V8 grows its heap less and compacts it): 44-80
# MB less at 10,000 members, for 20-50% more CPU in a burst, up to twice under make bench (measured;
# docs/operations.md, "Sizing")
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "--optimize-for-size", "/app/dist/main.js"]
CMD ["operator"]
