package controller

// The permissions the controller needs; `make manifests` turns these markers
// into deploy/base/rbac/role.yaml (least privilege: read SMI objects, write
// only their status, read Services and Pods, write Events and its Lease).
// Core/v1 Events: leader election reports its transitions with them.
// Backends add their own markers for the mesh resources they write.

// +kubebuilder:rbac:groups=access.smi-spec.io,resources=traffictargets,verbs=get;list;watch
// +kubebuilder:rbac:groups=access.smi-spec.io,resources=traffictargets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=specs.smi-spec.io,resources=httproutegroups;tcproutes;udproutes,verbs=get;list;watch
// +kubebuilder:rbac:groups=specs.smi-spec.io,resources=httproutegroups/status;tcproutes/status;udproutes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=split.smi-spec.io,resources=trafficsplits,verbs=get;list;watch
// +kubebuilder:rbac:groups=split.smi-spec.io,resources=trafficsplits/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=services;pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// Storage migration (core/storagemigration): reads the CRDs (core/certs' get), rewrites objects through
// the status writes above, and trims each SMI CRD's status.storedVersions to the hub.
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions/status,verbs=patch,resourceNames=traffictargets.access.smi-spec.io;httproutegroups.specs.smi-spec.io;tcproutes.specs.smi-spec.io;udproutes.specs.smi-spec.io;trafficsplits.split.smi-spec.io
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
