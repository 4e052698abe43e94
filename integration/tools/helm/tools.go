//go:build tools

// Package helmtools pins the helm command that the chart's tests run
// (helm template, lint and install).
package helmtools

import _ "helm.sh/helm/v4/cmd/helm"
