// Package adapters holds one package per mesh (istio, linkerd, consul). Each
// turns core/model slices into that mesh's own resources (a pure translator),
// makes the mesh match them (a sink that writes only what smi-adapter owns)
// and supplies the Traffic Metrics query translator. Each registers itself
// by name in cmd/smi-adapter's explicit backend registry and asserts
// var _ backend.Backend = (*Backend)(nil).
package adapters
