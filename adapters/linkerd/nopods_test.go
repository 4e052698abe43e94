package linkerd_test

import (
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// TestNoPodsIsNotAnError: an identity no pod runs as yet has nothing to
// program; a grant of all its ports is not a NoPorts error (it was, so the
// TrafficTarget showed Programmed=False until the first pod started).
func TestNoPodsIsNotAnError(t *testing.T) {
	from := model.ObjectRef{Kind: "TrafficTarget", Namespace: "ns", Name: "t"}
	pol := &model.AccessPolicy{
		Destination: model.Identity{Namespace: "ns", Name: "api"},
		From:        []model.ObjectRef{from},
		Workloads:   model.Workloads{Exact: true},
		Grants: []model.Grant{{Source: model.Identity{Namespace: "ns", Name: "web"},
			Rules: []model.Rule{{Protocol: model.ProtocolTCP, Route: from}}}},
	}
	res := linkerd.Translate(&model.Slice{Key: model.Key{Kind: model.KeyAccess, Namespace: "ns", Name: "api"}, Access: pol}, linkerd.Options{})
	if d := res.Problems.Diagnostics(from); len(d) > 0 {
		t.Fatalf("no pods: %v", d)
	}
	if len(res.Objects) != 0 {
		t.Fatalf("no pods, yet %d objects", len(res.Objects))
	}
}
