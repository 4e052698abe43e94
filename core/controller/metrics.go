package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
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
	// NativeWrites counts the writes backends make to the mesh (Kubernetes
	// objects, Consul config entries), by kind and operation.
	NativeWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smi_adapter_native_writes_total",
		Help: "Writes of mesh-native objects (Kubernetes objects, Consul config entries), by kind and operation (create, update, delete).",
	}, []string{"kind", "op"})
	statusWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smi_adapter_status_writes_total",
		Help: "Status updates written to SMI objects, by kind.",
	}, []string{"kind"})
)

func init() {
	// Registering collectors on controller-runtime's registry (served at
	// /metrics) is the one registration done at package load.
	ctrlmetrics.Registry.MustRegister(reconcileTotal, backendSyncErrors, statusWrites, NativeWrites)
}
