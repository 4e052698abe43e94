package metrics

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	metricsv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/metrics/v1alpha1"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Edge", Type: "string", Description: "direction and peer (empty: all traffic)"},
	{Name: "Success", Type: "string"},
	{Name: "Failure", Type: "string"},
	{Name: "P50", Type: "string"},
	{Name: "P90", Type: "string"},
	{Name: "P99", Type: "string"},
	{Name: "Window", Type: "string"},
}

// table renders TrafficMetrics for kubectl get.
func table(obj runtime.Object) (*metav1.Table, error) {
	t := &metav1.Table{ColumnDefinitions: columns}
	var items []metricsv1alpha1.TrafficMetrics
	switch o := obj.(type) {
	case *metricsv1alpha1.TrafficMetrics:
		items = []metricsv1alpha1.TrafficMetrics{*o}
	case *metricsv1alpha1.TrafficMetricsList:
		items = o.Items
		t.ResourceVersion = o.ResourceVersion
	default:
		return nil, fmt.Errorf("table of %T", obj)
	}
	for i := range items {
		tm := &items[i]
		vals := map[string]string{}
		for _, m := range tm.Metrics {
			if m.Value == nil {
				vals[m.Name] = "-"
				continue
			}
			vals[m.Name] = m.Value.String() + m.Unit
		}
		edge := ""
		if tm.Edge != nil && tm.Edge.Resource != nil && tm.Edge.Resource.Name != "" {
			edge = fmt.Sprintf("%s %s/%s", tm.Edge.Direction, tm.Edge.Resource.Namespace, tm.Edge.Resource.Name)
		}
		if tm.Backend != nil {
			edge = "backend " + tm.Backend.Name
		}
		name := tm.Name
		if tm.Resource != nil {
			name = tm.Resource.Name
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{name, edge, vals[metricsv1alpha1.SuccessCount],
			vals[metricsv1alpha1.FailureCount], vals[metricsv1alpha1.P50ResponseLatency], vals[metricsv1alpha1.P90ResponseLatency],
			vals[metricsv1alpha1.P99ResponseLatency], tm.Window.Duration.String()}, Object: runtime.RawExtension{Object: tm}})
	}
	return t, nil
}
