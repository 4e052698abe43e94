# smi-adapter — one Makefile for building, testing and generating.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

GO            ?= go
BIN           := $(CURDIR)/bin
KUBE_VERSION  := 1.37.2
ETCD_VERSION  := 3.6.16
CONTROLLER_TOOLS_VERSION := v0.23.0
# One folder per version pair: KUBEBUILDER_ASSETS for envtest.
ENVTEST_ASSETS := $(BIN)/envtest-k8s$(KUBE_VERSION)-etcd$(ETCD_VERSION)
CONSUL_VERSION := 1.22.3
CONSUL         := $(BIN)/consul-$(CONSUL_VERSION)/consul
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# Prometheus 3.x: the module github.com/prometheus/prometheus v0.3MM.P is
# Prometheus 3.MM.P. prometheus and promtool, built from source into one folder.
PROMETHEUS_MODULE_VERSION := 0.316.0
PROMETHEUS_VERSION := 3.16.0
PROMETHEUS_DIR := $(BIN)/prometheus-$(PROMETHEUS_VERSION)
PROMETHEUS     := $(PROMETHEUS_DIR)/prometheus
# Helm (v4), built from the module proxy: renders, lints and installs deploy/helm.
HELM_VERSION   := 4.3.2
HELM           := $(BIN)/helm-$(HELM_VERSION)/helm
KUBE_SERVERS   := $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd
# The tools users run in front of smi-adapter, driven by their own code
# (integration/tools/<name>: a module each, on the tool's dependency versions).
FLAGGER_VERSION := 1.36.1
FLAGGER_DIR    := $(BIN)/flagger-$(FLAGGER_VERSION)
ARGO_ROLLOUTS_VERSION := 1.10.1
ARGO_ROLLOUTS_DIR := $(BIN)/argo-rollouts-$(ARGO_ROLLOUTS_VERSION)
LINKERD2_VERSION := v0.0.0-20230502184307-e1ba0e039074
LINKERD_DEST_DIR := $(BIN)/linkerd-destination-20230502184307
DRIVERS        := $(FLAGGER_DIR)/flagger-driver $(ARGO_ROLLOUTS_DIR)/argo-rollouts-driver $(LINKERD_DEST_DIR)/linkerd-destination-driver
# Rust's regex crate (Linkerd's engine) as an oracle: Debian's
# librust-regex-dev, built offline with the machine's cargo.
RUST_REGEX_VERSION := 1.7.1
RUSTREGEX     := $(BIN)/rustregex-$(RUST_REGEX_VERSION)/rustregex
CARGO         ?= $(shell command -v cargo 2>/dev/null || echo $(HOME)/.cargo/bin/cargo)
# RE2 itself (Envoy's engine, under Istio and Consul) as an oracle: a small
# C++ program against Debian's libre2-dev (RE2 2022-06-01).
RE2_VERSION   := 20220601
RE2ORACLE     := $(BIN)/re2oracle-$(RE2_VERSION)/re2oracle
MODULE        := github.com/smi-adapter/smi-adapter
# openapi-gen at the kube-openapi version the module builds with.
OPENAPI_GEN_VERSION = $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kube-openapi)
OPENAPI_GEN    = $(BIN)/openapi-gen-$(OPENAPI_GEN_VERSION)
OPENAPI_DEPS  := k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/api/resource \
	k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version
SHARED        ?= $(abspath $(CURDIR)/../shared)
FUZZTIME      ?= 10s
export KUBEBUILDER_ASSETS := $(ENVTEST_ASSETS)
export SMI_ADAPTER_CONSUL := $(CONSUL)
export SMI_ADAPTER_PROMETHEUS := $(PROMETHEUS_DIR)
export SMI_ADAPTER_HELM := $(HELM)
export SMI_ADAPTER_FLAGGER := $(FLAGGER_DIR)
export SMI_ADAPTER_ARGO_ROLLOUTS := $(ARGO_ROLLOUTS_DIR)
export SMI_ADAPTER_LINKERD_DESTINATION := $(LINKERD_DEST_DIR)
export SMI_ADAPTER_RUSTREGEX := $(RUSTREGEX)
export SMI_ADAPTER_RE2 := $(RE2ORACLE)

KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=v$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37

.PHONY: all build test test-modules test-unit bench mutate fuzz fuzz-ci lint generate helm-files manifests goldens verify tools demo clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build the smi-adapter binary into bin/
	$(GO) build -o $(BIN)/smi-adapter ./cmd/smi-adapter

test: tools ## everything CI runs: unit, golden, fuzz seeds, integration on a real kube-apiserver
	$(GO) vet ./...
	cd integration/istiovalidate && $(GO) vet ./...
	$(GO) build -o $(BIN)/testsummary ./hack/testsummary
	$(MAKE) --no-print-directory test-modules

# Every module's tests run and are counted even when an earlier module's fail.
TEST_MODULES ?= . integration/istiovalidate
test-modules:
	{ rc=0; for m in $(TEST_MODULES); do (cd $$m && $(GO) test -json -count=1 ./...) || rc=1; done; exit $$rc; } | $(BIN)/testsummary

test-unit: ## unit and golden tests only (no servers)
	$(GO) build -o $(BIN)/testsummary ./hack/testsummary
	$(GO) test -json -count=1 -skip 'ConsulConfigWrite' ./core/... ./cmd/... ./adapters/... | $(BIN)/testsummary

bench: tools ## benchmarks (docs/benchmarks.txt, benchstat format); latency, linkerd-smi's workload and convergence on the real apiserver and Consul (docs/performance.md)
	$(GO) test -run '^$$' -bench . -benchmem ./core/... ./adapters/... ./cmd/... ./integration/metrics | tee docs/benchmarks.txt
	$(GO) test -run '^$$' -bench Latency -benchtime 1x -timeout 90m ./integration/perf
	$(GO) test -run '^$$' -bench LinkerdSMIShape -benchtime 1x -timeout 60m ./integration/perf
	$(GO) test -run '^$$' -bench Convergence -benchtime 1x -timeout 120m ./integration/perf

mutate: tools ## plant each hand-written mutant (hack/mutate/mutants.yaml) and run the semantic judges on it; report in integration/conformance/reports/mutants.md
	$(GO) run ./hack/mutate -mutants hack/mutate/mutants.yaml -o integration/conformance/reports/mutants.md

# package:target:executions; go test -fuzz takes one target of one package at
# a time. The executions are CI's budget (make fuzz-ci): about 15 s each on a
# 2-core machine.
FUZZ_TARGETS := ./core/apis:FuzzHubRoundTrip:6000 ./core/normalize:FuzzNormalize:3500 \
	./integration/conformance:FuzzAccessNeverWider:2500 ./integration/conformance:FuzzWorlds:200

fuzz: ## run each fuzz target for FUZZTIME (default 10s; e.g. 10m, or 50000x executions)
	@for pt in $(FUZZ_TARGETS); do pkg=$${pt%%:*}; rest=$${pt#*:}; t=$${rest%%:*}; \
	  echo "fuzz $$t in $$pkg for $(FUZZTIME)"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

# A count of executions, not a duration: Go 1.26's fuzzing coordinator can
# report "context deadline exceeded" when a duration runs out while a worker
# is busy (golang/go#75804, fixed in Go 1.27), which would fail CI with no
# failing input.
fuzz-ci: ## run each fuzz target for its CI budget of executions
	@for pt in $(FUZZ_TARGETS); do pkg=$${pt%%:*}; rest=$${pt#*:}; t=$${rest%%:*}; n=$${rest##*:}; \
	  echo "fuzz $$t in $$pkg for $${n} executions"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${n}x $$pkg || exit 1; done

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate: $(CONTROLLER_GEN) $(OPENAPI_GEN) ## deepcopy and CRDs (controller-gen), then golden files
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./core/apis/... paths=./adapters/linkerd/api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=./core/apis/... output:crd:artifacts:config=crds
	$(OPENAPI_GEN) --go-header-file hack/boilerplate.go.txt --output-dir core/metrics/openapi \
	  --output-pkg $(MODULE)/core/metrics/openapi --output-file zz_generated.openapi.go \
	  --output-model-name-file zz_generated.model_name.go --report-filename hack/api-violations.list \
	  $(addprefix --readonly-pkg ,$(OPENAPI_DEPS)) ./core/apis/metrics/v1alpha1 $(OPENAPI_DEPS)
	$(GO) run ./hack/crdconversion crds deploy/base/crds.yaml
	$(CONTROLLER_GEN) rbac:roleName=smi-adapter paths=./core/controller/... paths=./core/certs/... paths=./core/metrics/... output:rbac:artifacts:config=deploy/base/rbac
	$(CONTROLLER_GEN) rbac:roleName=smi-adapter-istio paths=./adapters/istio/... output:rbac:artifacts:config=deploy/overlays/istio/rbac
	$(CONTROLLER_GEN) rbac:roleName=smi-adapter-linkerd paths=./adapters/linkerd/... output:rbac:artifacts:config=deploy/overlays/linkerd/rbac
	$(MAKE) --no-print-directory helm-files

HELM_FILES := deploy/helm/smi-adapter/files
# The chart reads the generated CRDs and RBAC from its files/ (never edited by
# hand): copies of deploy/base and each overlay's rbac/, made by make generate.
helm-files:
	rm -rf $(HELM_FILES) && mkdir -p $(HELM_FILES)/rbac/base
	cp deploy/base/crds.yaml $(HELM_FILES)/
	cp deploy/base/rbac/*.yaml $(HELM_FILES)/rbac/base/
	for d in deploy/overlays/*/rbac; do b=$$(basename $$(dirname $$d)); mkdir -p $(HELM_FILES)/rbac/$$b; cp $$d/*.yaml $(HELM_FILES)/rbac/$$b/; done

manifests: generate ## alias of generate: CRD manifests in crds/

goldens: ## regenerate every golden file and report (-update)
	$(GO) test -count=1 ./core/apis ./core/normalize ./adapters/istio ./adapters/linkerd ./adapters/consul ./integration/consul ./integration/metrics -run 'Golden|Judge|Docs' -update
	cd integration/istiovalidate && $(GO) test -count=1 -run TestIstiodXDSConformance -update .
	# The summary reads the Consul and istiod reports written above.
	$(GO) test -count=1 ./integration/conformance -run 'Golden|Judge|Docs' -update

verify: generate goldens lint ## regenerate everything and fail on a diff
	@git add -N . >/dev/null 2>&1 || true
	@if ! git diff --quiet --exit-code; then git --no-pager diff --stat; echo "generated files are stale: run make generate goldens"; exit 1; fi

$(OPENAPI_GEN):
	mkdir -p $(BIN)
	GOBIN=$(BIN)/.gobin $(GO) install k8s.io/kube-openapi/cmd/openapi-gen@$(OPENAPI_GEN_VERSION)
	mv $(BIN)/.gobin/openapi-gen $@

$(CONTROLLER_GEN):
	mkdir -p $(BIN)
	GOBIN=$(BIN)/.gobin $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(BIN)/.gobin/controller-gen $@

tools: $(KUBE_SERVERS) $(CONSUL) $(PROMETHEUS) $(HELM) $(DRIVERS) $(RUSTREGEX) $(RE2ORACLE) ## build the test servers into bin/ (cached by version)

# Built one at a time: each needs ~3 GB and both cores.
$(ENVTEST_ASSETS)/kube-apiserver:
	mkdir -p $(ENVTEST_ASSETS)
	cd integration/tools/kube && $(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o $(ENVTEST_ASSETS)/ \
	  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl

$(ENVTEST_ASSETS)/etcd: | $(ENVTEST_ASSETS)/kube-apiserver
	mkdir -p $(ENVTEST_ASSETS)
	cd integration/tools/etcd && $(GO) build -trimpath -ldflags "-s -w" -o $(ENVTEST_ASSETS)/etcd go.etcd.io/etcd/server/v3

# The Consul agent, from the module proxy (after etcd: one server build at a time).
$(CONSUL): | $(ENVTEST_ASSETS)/etcd
	mkdir -p $(dir $(CONSUL))
	cd integration/tools/consul && $(GO) build -trimpath -ldflags "-s -w" -o $(CONSUL) github.com/hashicorp/consul

# Prometheus and promtool (after Consul: one server build at a time). The
# tests load fixed data and scrape nothing, so service discovery other than
# file and HTTP is left out (remove_all_sd), and so are the web UI's assets
# (the HTTP API needs neither).
PROMETHEUS_LDFLAGS := -s -w -X github.com/prometheus/common/version.Version=$(PROMETHEUS_VERSION) \
	-X github.com/prometheus/common/version.Branch=v$(PROMETHEUS_MODULE_VERSION)
$(PROMETHEUS): | $(CONSUL)
	mkdir -p $(PROMETHEUS_DIR)
	cd integration/tools/prometheus && $(GO) build -trimpath -tags remove_all_sd -ldflags "$(PROMETHEUS_LDFLAGS)" \
	  -o $(PROMETHEUS_DIR)/ github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool

# The Helm client (after Prometheus: one build at a time), for the chart's
# test (integration/kube): helm template, lint and install.
$(HELM): | $(PROMETHEUS)
	mkdir -p $(dir $(HELM))
	cd integration/tools/helm && CGO_ENABLED=0 $(GO) build -trimpath \
	  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=v$(HELM_VERSION)" -o $(HELM) helm.sh/helm/v4/cmd/helm

# The Flagger driver (after Helm, one build at a time; again when its code
# changes). Flagger's CRD comes from the module, next to the binary.
$(FLAGGER_DIR)/flagger-driver: $(wildcard integration/tools/flagger/*) | $(HELM)
	mkdir -p $(FLAGGER_DIR)
	cd integration/tools/flagger && $(GO) build -trimpath -ldflags "-s -w" -o $@ . && \
	  cp "$$($(GO) list -m -f '{{.Dir}}' github.com/fluxcd/flagger)/artifacts/flagger/crd.yaml" $(FLAGGER_DIR)/crd.yaml && chmod u+w $(FLAGGER_DIR)/crd.yaml

# Argo Rollouts' SMI router driver (after Flagger's, one build at a time), with
# the Rollout CRD from the same module.
$(ARGO_ROLLOUTS_DIR)/argo-rollouts-driver: $(wildcard integration/tools/argo-rollouts/*) | $(FLAGGER_DIR)/flagger-driver
	mkdir -p $(ARGO_ROLLOUTS_DIR)
	cd integration/tools/argo-rollouts && $(GO) build -trimpath -ldflags "-s -w" -o $@ . && \
	  cp "$$($(GO) list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)/manifests/crds/rollout-crd.yaml" $(ARGO_ROLLOUTS_DIR)/crd.yaml && chmod u+w $(ARGO_ROLLOUTS_DIR)/crd.yaml

# Linkerd's destination service driver (after Argo Rollouts', one build at a
# time): github.com/linkerd/linkerd2 $(LINKERD2_VERSION), the only version the
# module proxy serves.
$(LINKERD_DEST_DIR)/linkerd-destination-driver: $(wildcard integration/tools/linkerd-destination/*) | $(ARGO_ROLLOUTS_DIR)/argo-rollouts-driver
	mkdir -p $(LINKERD_DEST_DIR)
	cd integration/tools/linkerd-destination && $(GO) build -trimpath -ldflags "-s -w" -o $@ . && \
	  test "$$($@ -version)" = "$(LINKERD2_VERSION)"

# The Rust regex oracle: the crate's sources come from Debian's package (the
# only Rust crates this machine can reach), installed here when missing.
$(RUSTREGEX): $(wildcard integration/tools/rustregex/src/* integration/tools/rustregex/Cargo.*)
	@if [ ! -d /usr/share/cargo/registry/regex-$(RUST_REGEX_VERSION) ]; then \
	  echo "installing librust-regex-dev (Rust's regex $(RUST_REGEX_VERSION) sources)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librust-regex-dev; fi
	mkdir -p $(dir $(RUSTREGEX))
	cd integration/tools/rustregex && CARGO_TARGET_DIR=$(BIN)/.cargo-target $(CARGO) build --release --offline --locked
	cp $(BIN)/.cargo-target/release/rustregex $@

# The RE2 oracle: Debian's libre2-dev and g++, installed here when missing.
$(RE2ORACLE): $(wildcard integration/tools/re2/*)
	@if [ ! -f /usr/include/re2/re2.h ] || ! command -v g++ >/dev/null; then \
	  echo "installing libre2-dev and g++ (RE2 $(RE2_VERSION))"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libre2-dev g++; fi
	integration/tools/re2/build.sh $@
	@v=$$($@ --version); case "$$v" in $(RE2_VERSION)*) ;; *) echo "libre2-dev is $$v, want $(RE2_VERSION)"; rm -f $@; exit 1;; esac

BACKEND ?= istio
# Only what BACKEND needs: the control plane, and the Consul agent for consul.
demo: $(KUBE_SERVERS) $(if $(filter consul,$(BACKEND)),$(CONSUL)) ## one-command demo on a local control plane: make demo BACKEND=istio|linkerd|consul
	$(GO) run ./integration/demo --backend $(BACKEND)

clean:
	rm -rf $(BIN)/smi-adapter
