// Package normalize turns hub-version SMI objects, Kubernetes Services and the
// pods behind each service account into the model (core/model). This is the
// one place that says what an SMI object means; every rule of the SMI spec is
// implemented here once:
//
//   - access is deny by default: no valid TrafficTarget, no Grant;
//   - a TrafficTarget without sources or rules grants nothing and is Invalid;
//   - a rule without matches grants every match of its route group;
//   - pathRegex is anchored at the start only, made explicit as "^(?:re).*$";
//   - "*" in methods (or no methods) means every method;
//   - headers of one match are AND-ed, matches of one group OR-ed;
//   - no ports (TCPRoute/UDPRoute, or no v1alpha1/2 destination port) means all ports;
//   - a TrafficTarget grants access only to a destination in its own namespace;
//   - weights are relative, reduced exactly; all zero leaves traffic on the root;
//   - a backend without a port of the root gets no traffic;
//   - references that do not resolve and regexes that RE2 rejects grant nothing.
//
// Each problem becomes a model.Diagnostic on the object it came from; one bad
// object never changes what another object means.
package normalize
