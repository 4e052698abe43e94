package kubesink

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestShortName(t *testing.T) {
	if got := ShortName("api-smi-access"); got != "api-smi-access" {
		t.Fatal(got)
	}
	long := strings.Repeat("a", 253)
	a, b := ShortName(long+"-smi-access"), ShortName(long+"-smi-access-1")
	if a == b || len(a) != MaxNameLength || len(b) != MaxNameLength || a != ShortName(long+"-smi-access") {
		t.Fatalf("%q %q", a, b)
	}
	for _, n := range []string{a, ShortName(strings.Repeat("ab.", 100))} {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Fatal(n, errs)
		}
	}
}
