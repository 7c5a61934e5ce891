# teamkeys — every target runs on Node 24 LTS (installed into ~/.cache/teamkeys when the machine's node is older).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
NODE_BIN := $(shell bash hack/node.sh)
export PATH := $(NODE_BIN):$(PATH)
EMULATOR_PORT ?= 8787

.PHONY: test tools deps bins typecheck lint unit soak chaos cluster-up cluster-down emulator bench bench-peers bench-memory bench-rotation bench-analytics crds chart readme sbom build image image-local demo demo-down deploy clean

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: node_modules/.installed

## tools: the machine's tools no language registry ships (openssl, binutils, prometheus, podman, runc, mmdebstrap),
##        installed with apt-get when missing (as root; otherwise it prints the command)
tools:
	bash hack/system-deps.sh

## bins: build the local cluster (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok),
##       helm, kubeconform and syft from the Go module proxy (cached; skipped when up to date)
bins: tools
	bash hack/controlplane-bins.sh >/dev/null
	bash hack/helm.sh >/dev/null
	bash hack/gotool.sh kubeconform >/dev/null
	bash hack/gotool.sh syft >/dev/null

typecheck: deps
	npx tsc -p tsconfig.json

lint: deps
	npx oxlint --type-aware --deny-warnings src test bench hack

## test: type-check, lint, unit, emulator conformance and integration tests (whole local cluster + emulator,
##       and the container image built and run with podman)
test: tools deps bins typecheck lint
	npx vitest run

## unit: the tests that need neither Go nor a cluster: pure logic and the emulator's conformance (seconds)
unit: deps
	npx vitest run --project unit --project emulator

## soak: the model-based test for MODEL_MINUTES (default 30) with a random seed; prints the seed and any failing
##       sequence, shrunk (replay one with MODEL_SEED=<seed>)
MODEL_MINUTES ?= 30
soak: deps bins
	MODEL_MINUTES=$(MODEL_MINUTES) npx vitest run test/integration/model.test.ts

## chaos: the fault suite at full size (SIGKILLs, kube-apiserver and etcd outages, an OpenRouter storm), each on its
##        own cluster with users at work; prints the figures and writes test/chaos/results.json (a fixed-seed
##        subset runs in `make test`)
chaos: deps bins
	node test/chaos/run.ts

## bench: provisioning at scale (N = BENCH_N, default 1,100,1000; OpenRouter latency BENCH_LATENCY 0,50 ms; its rate
##        limit BENCH_LIMIT 0,50/s) side by side with a seed-style script and the API server's ceiling; prints a
##        table, writes JSON and PNG charts to bench/results/ (asserts nothing)
bench: deps bins build
	node bench/scale.ts

## bench-peers: teamkeys side by side with External Secrets Operator v0.16.2 (built from the Go module proxy, cached)
##              on BENCH_PEERS_N members (default 1000): members/s, apply->Ready, Kubernetes and OpenRouter requests
##              per member, RSS, keys left enabled after deletion; prints a table, writes JSON to bench/results/
bench-peers: deps bins build
	bash hack/eso.sh >/dev/null
	node bench/peers.ts

## bench-memory: the operator's RSS and heap at BENCH_N members (default 10,000): just started, all Ready, after a
##               restart, after BENCH_IDLE_MINUTES idle (default 2); prints a table, writes JSON to bench/results/
bench-memory: deps bins build
	node bench/memory.ts

## bench-analytics: a 10,000-key usage read under OpenRouter's analytics quota, beside key operations (no cluster)
bench-analytics: deps
	node bench/analytics.ts

## bench-rotation: rotation latency (annotation -> new key -> previous key disabled) and calls per rotation
bench-rotation: deps bins
	node bench/rotation.ts

## crds: regenerate crds/ from src/api/schema.ts
crds: deps
	node src/main.ts crds

## chart: regenerate the Helm chart deploy/chart/teamkeys from deploy/ and crds/
chart: deps
	node hack/chart.ts

## readme: regenerate the docs' generated tables (refused input in docs/security.md, the fault figures in docs/faults.md)
##         from the tests' data (test/refusals/, test/chaos/results.json)
readme: deps
	node hack/readme.ts

## build: compile src/ to dist/ (what the image runs; dist/cli/kubectl-teamkeys.js is the kubectl plugin)
build: deps
	npm run build

## image: the container image FROM the official Node 24 bases, with docker when present, else podman
IMAGE ?= teamkeys:dev
image:
	bash hack/image.sh $(IMAGE)

## sbom: the image's Software Bill of Materials, CycloneDX JSON, made by syft from the image (make image first)
sbom:
	bash hack/sbom.sh $(IMAGE) sbom.cdx.json

## image-local: the same Dockerfile FROM bases made here from Debian packages and node@24 (no registry needed)
image-local:
	bash hack/image.sh --local $(IMAGE)

## demo: control plane + emulator + operator, the examples applied, traffic simulated, `kubectl get tm -A`
demo: deps bins
	node hack/demo.ts

demo-down: deps
	node hack/demo.ts down

## deploy: install on the cluster in your KUBECONFIG (e.g. kind); see the README for the management key
deploy:
	kubectl apply -k deploy/

## cluster-up / cluster-down: the whole local cluster (3 fake nodes) for humans; prints the KUBECONFIG to export
cluster-up: deps bins
	node test/controlplane/cli.ts up

cluster-down: deps
	node test/controlplane/cli.ts down

## emulator: a local OpenRouter on 127.0.0.1:$(EMULATOR_PORT); the management key is in .cache/emulator/management-key
emulator: deps
	node src/main.ts emulator --port $(EMULATOR_PORT) \
	  --management-key-file .cache/emulator/management-key --state-file .cache/emulator/state.json

clean:
	rm -rf node_modules dist .cache
