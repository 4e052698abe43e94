package consul

import capi "github.com/hashicorp/consul/api"

// kindOrder is the order entries are written in (and deleted in reverse):
// service-defaults before the routers, splitters and intentions that need them.
var kindOrder = map[string]string{
	capi.ServiceDefaults:   "1",
	capi.ServiceResolver:   "2",
	capi.ServiceSplitter:   "3",
	capi.ServiceRouter:     "4",
	capi.ServiceIntentions: "5",
}

// Order is an entry's write-order key.
func Order(e capi.ConfigEntry) string { return kindOrder[e.GetKind()] + e.GetKind() }

// Clean drops what the server fills in, for comparison and output: the
// indexes, each intention source's Precedence (computed by the agent), and
// the empty TransparentProxy block the agent returns for a service-defaults
// written without one. Without them, every resync rewrote every intention
// and service-defaults (integration/consul: applying twice writes nothing).
func Clean(e capi.ConfigEntry) capi.ConfigEntry {
	switch v := e.(type) {
	case *capi.ServiceConfigEntry:
		c := *v
		c.CreateIndex, c.ModifyIndex = 0, 0
		if c.TransparentProxy != nil && *c.TransparentProxy == (capi.TransparentProxyConfig{}) {
			c.TransparentProxy = nil
		}
		return &c
	case *capi.ServiceSplitterConfigEntry:
		c := *v
		c.CreateIndex, c.ModifyIndex = 0, 0
		return &c
	case *capi.ServiceRouterConfigEntry:
		c := *v
		c.CreateIndex, c.ModifyIndex = 0, 0
		return &c
	case *capi.ServiceIntentionsConfigEntry:
		c := *v
		c.CreateIndex, c.ModifyIndex = 0, 0
		c.Sources = make([]*capi.SourceIntention, len(v.Sources))
		for i, src := range v.Sources {
			if src == nil {
				continue
			}
			s := *src
			s.Precedence = 0
			c.Sources[i] = &s
		}
		return &c
	}
	return e
}
