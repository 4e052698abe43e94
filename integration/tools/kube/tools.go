//go:build tools

// Package kubetools pins the kube-apiserver and kubectl commands for the test harness.
package kubetools

import (
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
)
