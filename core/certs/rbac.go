package certs

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update,namespace=smi-adapter-system
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=patch,resourceNames=traffictargets.access.smi-spec.io;httproutegroups.specs.smi-spec.io;tcproutes.specs.smi-spec.io;trafficsplits.split.smi-spec.io
// +kubebuilder:rbac:groups=apiregistration.k8s.io,resources=apiservices,verbs=get;list;watch
// +kubebuilder:rbac:groups=apiregistration.k8s.io,resources=apiservices,verbs=patch,resourceNames=v1alpha1.metrics.smi-spec.io
