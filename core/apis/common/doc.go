// Package common holds the types that every SMI group and version shares in
// smi-adapter's CRDs: the status block with its conditions, and HTTP header
// matches that accept both wire forms found in the wild.
// +kubebuilder:object:generate=true
package common
