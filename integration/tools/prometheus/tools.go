//go:build tools

// Package prometheustools pins the prometheus and promtool commands that the
// Traffic Metrics API tests query (Prometheus 3.x, built from source).
package prometheustools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
