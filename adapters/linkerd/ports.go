package linkerd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// DefaultOpaquePorts are Linkerd's proxy.opaquePorts default: the
// destination service and the proxy-injector treat these ports as opaque TCP
// (no protocol detection, so no HTTPRoute ever applies to them) unless a
// config.linkerd.io/opaque-ports annotation says otherwise.
var DefaultOpaquePorts = []int32{25, 587, 3306, 4444, 5432, 6379, 9300, 11211}

// httpAppProtocols are the appProtocols of a port that carry HTTP requests
// Linkerd can route (an HTTP/1 upgrade to WebSocket starts as one).
var httpAppProtocols = map[string]bool{
	"http": true, "http2": true, "h2c": true, "grpc": true, "grpc-web": true,
	"kubernetes.io/h2c": true, "kubernetes.io/ws": true,
}

// tcpPortNames are the port-name prefixes (before the first "-") that say a
// port carries something other than HTTP requests: the naming convention
// Services follow for meshes (Istio's "tcp-", "tls-", …). HTTPS is TLS: the
// proxy forwards it without seeing a request.
var tcpPortNames = map[string]bool{"tcp": true, "tls": true, "https": true, "mongo": true, "mysql": true, "redis": true, "opaque": true}

// portFacts is what says which protocol a port carries.
type portFacts struct {
	Port int32
	// Names and AppProtocols of the port: a Service port's, or a container
	// port's with those of the Service ports that target it.
	Names, AppProtocols []string
	// Inbound: a container port, whose protocol the Server smi-adapter
	// writes decides (Linkerd's default opaque ports do not).
	Inbound bool
	// HTTPProbed: the kubelet sends HTTP probes to the port: it speaks HTTP.
	HTTPProbed bool
	// Opacities: what the opaque-ports annotations (the Service's, or each
	// pod's) say of the port; none is the same as OpacityDefault.
	Opacities []model.Opacity
}

// tcpReason says why Linkerd carries a port as TCP, where HTTPRoutes never
// apply ("is named \"tcp\"", to follow "port N"), or "" when it may carry HTTP. It is the one rule for a Server's
// proxyProtocol (inbound) and for a split's HTTPRoutes on a root port
// (outbound): an appProtocol other than HTTP's, a port name that says TCP,
// or one of Linkerd's default opaque ports. A port an HTTP appProtocol or
// an HTTP probe declares HTTP keeps that only inbound, where the Server
// decides; outbound, Linkerd's destination service makes a default opaque
// port opaque whatever the Service says.
func tcpReason(f portFacts) string {
	defaults := len(f.Opacities) == 0
	for _, o := range f.Opacities {
		switch o {
		case model.OpacityOpaque:
			return fmt.Sprintf("is listed in the %s annotation", normalize.AnnotationOpaquePorts)
		case model.OpacityDefault:
			defaults = true
		}
	}
	declaredHTTP := f.HTTPProbed
	for _, ap := range f.AppProtocols {
		if ap == "" {
			continue
		}
		if !httpAppProtocols[strings.ToLower(ap)] {
			return fmt.Sprintf("has appProtocol %q", ap)
		}
		declaredHTTP = true
	}
	declaredHTTP = declaredHTTP && f.Inbound
	for _, n := range f.Names {
		prefix, _, _ := strings.Cut(strings.ToLower(n), "-")
		if tcpPortNames[prefix] {
			return fmt.Sprintf("is named %q", n)
		}
	}
	if !declaredHTTP && defaults {
		// An annotation replaces the defaults (for every pod that has one).
		for _, p := range DefaultOpaquePorts {
			if p == f.Port {
				return "is one of Linkerd's default opaque ports (proxy.opaquePorts)"
			}
		}
	}
	return ""
}

// servicePortTCP: tcpReason for a root Service's port (outbound).
func servicePortTCP(p model.ServicePort) string {
	return tcpReason(portFacts{Port: p.Port, Names: []string{p.Name}, AppProtocols: []string{p.AppProtocol}, Opacities: []model.Opacity{p.Opacity}})
}

// containerPortTCP: tcpReason for a container port of the destination's
// pods (inbound): its own name, the names and appProtocols of the Service
// ports that target it, and whether the kubelet probes it over HTTP.
func containerPortTCP(pol *model.AccessPolicy, port int32) string {
	f := portFacts{Port: port, Inbound: true}
	for _, cp := range pol.Workloads.Ports {
		if cp.Port == port && cp.Protocol == "TCP" {
			f.Names = append(f.Names, cp.Name)
			f.Opacities = append(f.Opacities, cp.Opacity)
			for _, svc := range pol.Services {
				for _, sp := range svc.Ports {
					if targets(sp, cp) {
						f.Names = append(f.Names, sp.Name)
						f.AppProtocols = append(f.AppProtocols, sp.AppProtocol)
					}
				}
			}
		}
	}
	for _, pr := range pol.Workloads.Probes {
		f.HTTPProbed = f.HTTPProbed || pr.Port == port
	}
	return tcpReason(f)
}

// targets says whether a Service port sends its traffic to a container
// port (targetPort by number or name; none means the same number).
func targets(sp model.ServicePort, cp model.ContainerPort) bool {
	if sp.Protocol != cp.Protocol {
		return false
	}
	switch sp.TargetPort {
	case "":
		return sp.Port == cp.Port
	case strconv.Itoa(int(cp.Port)):
		return true
	}
	return cp.Name != "" && sp.TargetPort == cp.Name
}
