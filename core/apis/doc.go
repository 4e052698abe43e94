// Package apis gathers every SMI group and version smi-adapter serves: one
// scheme with all of them, and conversion of any version to its hub
// (access v1alpha3, specs v1alpha4, split v1alpha4) for in-process use by the
// offline translator. The apiserver gets the same conversions through the
// conversion webhook.
package apis
