package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/smi-adapter/smi-adapter/core/backend"
)

var (
	reconcileTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smi_adapter_reconcile_total",
		Help: "Reconciles of SMI keys, by backend, key kind and result (success, error).",
	}, []string{"backend", "kind", "result"})
	backendSyncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smi_adapter_backend_sync_errors_total",
		Help: "Backend Sync calls that returned an error, by backend and key kind.",
	}, []string{"backend", "kind"})
	statusWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smi_adapter_status_writes_total",
		Help: "Status updates written to SMI objects, by kind.",
	}, []string{"kind"})
)

func init() {
	// Registering collectors on controller-runtime's registry (served at
	// /metrics) is the one registration done at package load.
	ctrlmetrics.Registry.MustRegister(reconcileTotal, backendSyncErrors, statusWrites, backend.NativeWrites)
}
