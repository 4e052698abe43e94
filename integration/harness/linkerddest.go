package harness

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
)

// LinkerdDestinationVersion is the github.com/linkerd/linkerd2 module whose
// own destination service (controller/api/destination) answers profile
// lookups in the tests, built by `make tools` into
// bin/linkerd-destination-20230502184307/ (the only version of linkerd2 the
// module proxy serves).
const LinkerdDestinationVersion = "v0.0.0-20230502184307-e1ba0e039074"

// linkerdDestinationDirVersion is the part of LinkerdDestinationVersion
// that names the folder: bin/linkerd-destination-<this>/ (the Makefile's
// LINKERD_DEST_DIR).
const linkerdDestinationDirVersion = "20230502184307"

// LinkerdDestination is Linkerd's destination service running against the
// test apiserver in a driver process, with the proxy's gRPC client to it.
type LinkerdDestination struct {
	d *Driver
}

// LinkerdProfile is the DestinationProfile a Linkerd proxy receives for a
// GetProfile lookup.
type LinkerdProfile struct {
	FullyQualifiedName string               `json:"fullyQualifiedName"`
	DstOverrides       []LinkerdDstOverride `json:"dstOverrides"`
	// Routes are the proxy API's routes, as protojson.
	Routes         []json.RawMessage `json:"routes"`
	OpaqueProtocol bool              `json:"opaqueProtocol"`
	// RetryBudget is the proxy API's retry budget, as protojson.
	RetryBudget json.RawMessage `json:"retryBudget"`
	// Raw is the whole DestinationProfile, as protojson.
	Raw json.RawMessage `json:"raw"`
}

// LinkerdDstOverride is one weighted destination of a profile: Weight is in
// decimillis (10,000 = 100%), as the proxy receives it.
type LinkerdDstOverride struct {
	Authority string `json:"authority"`
	Weight    uint32 `json:"weight"`
}

// LinkerdWait says when GetProfile's answer is ready: by default the first
// profile the server streams (the default profile when its informers have
// not seen the ServiceProfile yet).
type LinkerdWait struct {
	// DstOverrides waits for a profile with at least one dstOverride.
	DstOverrides bool
	// Routes waits for a profile with at least this many routes.
	Routes int
	// TimeoutSeconds bounds the wait (the driver's default: 10).
	TimeoutSeconds int
}

// LinkerdDestinationBinary finds the driver `make tools` built:
// $SMI_ADAPTER_LINKERD_DESTINATION, else
// bin/linkerd-destination-20230502184307/ of the repository.
func LinkerdDestinationBinary() (string, error) {
	dir, err := ToolDir("SMI_ADAPTER_LINKERD_DESTINATION", "linkerd-destination", linkerdDestinationDirVersion)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "linkerd-destination-driver"), nil
}

// LinkerdDestinationBuiltVersion is the linkerd2 module version the driver
// reports it was built with.
func LinkerdDestinationBuiltVersion() (string, error) {
	bin, err := LinkerdDestinationBinary()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, "-version").Output()
	if err != nil {
		return "", fmt.Errorf("%s -version: %w", bin, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// StartLinkerdDestination starts Linkerd's destination service against the
// apiserver of cfg; it answers once its informers have synced.
func StartLinkerdDestination(cfg *rest.Config) (*LinkerdDestination, error) {
	bin, err := LinkerdDestinationBinary()
	if err != nil {
		return nil, err
	}
	d, err := StartDriver(bin, cfg)
	if err != nil {
		return nil, err
	}
	return &LinkerdDestination{d: d}, nil
}

// GetProfile asks the destination service for the profile of path
// (<svc>.<ns>.svc.<cluster-domain>:<port>) as a proxy with contextToken
// (e.g. `{"ns":"client-ns"}`) does. At most one wait is used.
func (l *LinkerdDestination) GetProfile(path, contextToken string, wait ...LinkerdWait) (*LinkerdProfile, error) {
	req := map[string]any{"op": "getProfile", "path": path, "contextToken": contextToken}
	if len(wait) > 1 {
		return nil, fmt.Errorf("GetProfile: at most one wait, got %d", len(wait))
	}
	if len(wait) == 1 {
		w := wait[0]
		if w.DstOverrides {
			req["waitFor"] = "dstOverrides"
		}
		if w.Routes > 0 {
			req["waitForRoutes"] = w.Routes
		}
		if w.TimeoutSeconds > 0 {
			req["timeoutSeconds"] = w.TimeoutSeconds
		}
	}
	p := &LinkerdProfile{}
	if err := l.d.Call(req, p); err != nil {
		return nil, fmt.Errorf("linkerd destination: %w", err)
	}
	return p, nil
}

// Stop stops the destination service and its driver process.
func (l *LinkerdDestination) Stop() error { return l.d.Stop() }
