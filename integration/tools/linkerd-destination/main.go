// Command linkerd-destination-driver runs Linkerd's own destination service
// (github.com/linkerd/linkerd2 controller/api/destination, the gRPC service
// every Linkerd proxy asks for service profiles) against a kube-apiserver,
// so the tests of smi-adapter see exactly what a proxy would receive for the
// ServiceProfiles smi-adapter writes: the dstOverrides in decimillis, the
// authorities with their ports, the routes.
//
// It is wired as Linkerd's controller/cmd/destination does: the k8s API
// wrapper (controller/k8s InitializeAPI) with the informers the destination
// server needs (Endpoints, EndpointSlices, Pods, Services, ServiceProfiles,
// Jobs, Servers), the metadata API (Nodes, ReplicaSets), destination.NewServer
// listening on 127.0.0.1 on a free port; then it asks that server with the
// proxy's own gRPC client (github.com/linkerd/linkerd2-proxy-api
// go/destination).
//
// Linkerd pins old Kubernetes libraries (k8s.io v0.27), and the module proxy
// serves github.com/linkerd/linkerd2 only at the pseudo-version linkerd-smi
// pins, so this is a module and a binary of its own.
//
// It reads one JSON request per line on stdin and answers one JSON line on
// stdout:
//
//	{"op":"getProfile","path":"web.ns.svc.cluster.local:8080","contextToken":"{\"ns\":\"ns\"}"}
//
// answers the first DestinationProfile the server streams for path;
// "waitFor":"dstOverrides" reads updates until one has a dstOverride,
// "waitForRoutes":N until one has at least N routes, within
// "timeoutSeconds" (default 10). The answer is
// {"fullyQualifiedName":..,"dstOverrides":[{"authority":..,"weight":N}],
// "routes":[..],"opaqueProtocol":..,"retryBudget":..,"raw":..} (routes,
// retryBudget and raw as protojson) or {"error":"..."}.
//
// linkerd-destination-driver -version prints the linkerd2 module version it
// was built with.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"time"

	pb "github.com/linkerd/linkerd2-proxy-api/go/destination"
	"github.com/linkerd/linkerd2/controller/api/destination"
	"github.com/linkerd/linkerd2/controller/k8s"
	"github.com/linkerd/linkerd2/pkg/util"
	log "github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const module = "github.com/linkerd/linkerd2"

type request struct {
	Op             string `json:"op"`
	Path           string `json:"path"`
	ContextToken   string `json:"contextToken"`
	WaitFor        string `json:"waitFor,omitempty"`
	WaitForRoutes  int    `json:"waitForRoutes,omitempty"`
	TimeoutSeconds int    `json:"timeoutSeconds,omitempty"`
}

type dstOverride struct {
	Authority string `json:"authority"`
	Weight    uint32 `json:"weight"`
}

type answer struct {
	FullyQualifiedName string            `json:"fullyQualifiedName,omitempty"`
	DstOverrides       []dstOverride     `json:"dstOverrides,omitempty"`
	Routes             []json.RawMessage `json:"routes,omitempty"`
	OpaqueProtocol     bool              `json:"opaqueProtocol,omitempty"`
	RetryBudget        json.RawMessage   `json:"retryBudget,omitempty"`
	Raw                json.RawMessage   `json:"raw,omitempty"`
	Error              string            `json:"error,omitempty"`
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the apiserver")
	clusterDomain := flag.String("cluster-domain", "cluster.local", "Kubernetes cluster domain")
	// Linkerd's chart default (proxy.opaquePorts), which the control plane
	// passes to the destination service as -default-opaque-ports.
	opaquePorts := flag.String("default-opaque-ports", "25,587,3306,4444,5432,6379,9300,11211", "default opaque ports")
	verbose := flag.Bool("v", false, "log the destination server at debug level on stderr")
	version := flag.Bool("version", false, "print the linkerd2 module version and exit")
	flag.Parse()
	if *version {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, m := range info.Deps {
				if m.Path == module {
					fmt.Println(m.Version)
				}
			}
		}
		return
	}
	log.SetOutput(os.Stderr)
	log.SetLevel(log.WarnLevel)
	if *verbose {
		log.SetLevel(log.DebugLevel)
	}
	if err := run(*kubeconfig, *clusterDomain, *opaquePorts, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "linkerd-destination-driver:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, clusterDomain, opaquePorts string, stdin io.Reader, stdout io.Writer) error {
	if kubeconfig == "" {
		return errors.New("-kubeconfig is required")
	}
	client, stop, err := startServer(kubeconfig, clusterDomain, opaquePorts)
	if err != nil {
		return err
	}
	defer stop()

	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(stdout)
	for in.Scan() {
		var req request
		a := &answer{}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			a.Error = "request: " + err.Error()
		} else if a, err = do(client, req); err != nil {
			a = &answer{Error: err.Error()}
		}
		if err := out.Encode(a); err != nil {
			return err
		}
	}
	return in.Err()
}

// startServer starts Linkerd's destination server as
// controller/cmd/destination's Main does (EndpointSlices enabled, its
// default) and returns a proxy-side client connected to it.
func startServer(kubeconfig, clusterDomain, opaquePortsFlag string) (pb.DestinationClient, func(), error) {
	ctx := context.Background()
	opaquePorts, err := util.ParsePorts(opaquePortsFlag)
	if err != nil {
		return nil, nil, fmt.Errorf("default opaque ports: %w", err)
	}
	k8sAPI, err := k8s.InitializeAPI(ctx, kubeconfig, true,
		k8s.Endpoint, k8s.ES, k8s.Pod, k8s.Svc, k8s.SP, k8s.Job, k8s.Srv)
	if err != nil {
		return nil, nil, fmt.Errorf("k8s API: %w", err)
	}
	metadataAPI, err := k8s.InitializeMetadataAPI(kubeconfig, k8s.Node, k8s.RS)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata API: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	srv, err := destination.NewServer(
		lis.Addr().String(),
		"linkerd",       // controller namespace
		"cluster.local", // identity trust domain
		true,            // enable H2 upgrade
		true,            // enable EndpointSlices
		k8sAPI,
		metadataAPI,
		clusterDomain,
		opaquePorts,
		done,
	)
	if err != nil {
		_ = lis.Close()
		return nil, nil, fmt.Errorf("destination server: %w", err)
	}
	informersStop := make(chan struct{})
	// Blocks until the informers' caches are synced.
	k8sAPI.Sync(informersStop)
	metadataAPI.Sync(informersStop)
	go func() {
		if err := srv.Serve(lis); err != nil {
			log.Errorf("destination gRPC server: %s", err)
		}
	}()
	conn, err := grpc.Dial(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		close(done)
		srv.Stop()
		close(informersStop)
		return nil, nil, err
	}
	return pb.NewDestinationClient(conn), func() {
		_ = conn.Close()
		close(done)
		srv.Stop()
		close(informersStop)
	}, nil
}

func do(client pb.DestinationClient, req request) (*answer, error) {
	if req.Op != "getProfile" {
		return nil, fmt.Errorf("unknown op %q", req.Op)
	}
	if req.WaitFor != "" && req.WaitFor != "dstOverrides" {
		return nil, fmt.Errorf("unknown waitFor %q (only dstOverrides)", req.WaitFor)
	}
	timeout := 10 * time.Second
	if req.TimeoutSeconds > 0 {
		timeout = time.Duration(req.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stream, err := client.GetProfile(ctx, &pb.GetDestination{
		Scheme:       "k8s",
		Path:         req.Path,
		ContextToken: req.ContextToken,
	})
	if err != nil {
		return nil, fmt.Errorf("GetProfile %s: %w", req.Path, err)
	}
	var last *pb.DestinationProfile
	for {
		p, err := stream.Recv()
		if err != nil {
			if last != nil {
				raw, _ := protojson.Marshal(last)
				return nil, fmt.Errorf("GetProfile %s: %w (last profile: %s)", req.Path, err, raw)
			}
			return nil, fmt.Errorf("GetProfile %s: %w", req.Path, err)
		}
		last = p
		if req.WaitFor == "dstOverrides" && len(p.GetDstOverrides()) == 0 {
			continue
		}
		if len(p.GetRoutes()) < req.WaitForRoutes {
			continue
		}
		return toAnswer(p)
	}
}

func toAnswer(p *pb.DestinationProfile) (*answer, error) {
	a := &answer{
		FullyQualifiedName: p.GetFullyQualifiedName(),
		DstOverrides:       []dstOverride{},
		Routes:             []json.RawMessage{},
		OpaqueProtocol:     p.GetOpaqueProtocol(),
	}
	for _, d := range p.GetDstOverrides() {
		a.DstOverrides = append(a.DstOverrides, dstOverride{Authority: d.GetAuthority(), Weight: d.GetWeight()})
	}
	for _, r := range p.GetRoutes() {
		raw, err := marshal(r)
		if err != nil {
			return nil, err
		}
		a.Routes = append(a.Routes, raw)
	}
	var err error
	if p.GetRetryBudget() != nil {
		if a.RetryBudget, err = marshal(p.GetRetryBudget()); err != nil {
			return nil, err
		}
	}
	if a.Raw, err = marshal(p); err != nil {
		return nil, err
	}
	return a, nil
}

func marshal(m proto.Message) (json.RawMessage, error) {
	return protojson.Marshal(m)
}
