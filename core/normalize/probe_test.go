package normalize

import "testing"

// TestProbePath: the path a proxy sees for the kubelet's probe request. A
// relative path or one with a query made Linkerd's policy controller refuse
// the probe route ("paths must be absolute") or never match it, and the
// pod's probes then failed.
func TestProbePath(t *testing.T) {
	for in, want := range map[string]string{"": "/", "healthz": "/healthz", "/ready?full=1": "/ready", "/live": "/live"} {
		if got := probePath(in); got != want {
			t.Errorf("probePath(%q) = %q, want %q", in, got, want)
		}
	}
}
