package linkerd

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"

	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/neutralregex"
)

// One route per request. Linkerd's inbound proxy picks, for each request,
// the single best-matching HTTPRoute of the Server (linkerd-http-route:
// the longest path match — a regex or exact path counts the whole request
// path, a prefix its own length, "/" 1 — then a method match, then the
// number of header matches; ties go to the oldest route, then the first by
// name) and applies only that route's authorizations. SMI grants are a
// union: a request is allowed for every source granted any match it falls
// in. So the routes of a Server are planned together (planRoutes):
//
//   - every route authorizes, besides its own grant's sources, the sources
//     of every grant whose match covers all of the route's requests (proven
//     on the regexes' languages, langs.go): exactly what SMI allows there;
//   - a route nested in another that would rank as high on its requests is
//     separated from it: the outer route's literal path excludes the inner
//     one's (the two then match no request in common), a method-less inner
//     route also matches each method SMI names (it then ranks above a
//     method-less outer one for them), a path-less inner route takes the
//     outer route's path (which matches every path);
//   - two grants that overlap without either covering the other get a
//     route for exactly the requests both match, authorizing both, where
//     one can be written that ranks above both (or above one and can be
//     cut out of the other's literal path) and it leaves fewer gaps;
//   - what is left — requests whose best route may lack a source SMI grants
//     them — is reported (RouteOverlap), failing closed: no route ever
//     authorizes a source SMI does not grant on all of its requests.

// ReasonRouteOverlap: overlapping HTTP grants of different sources on one
// port that Linkerd's one-route-per-request authorization cannot carry
// exactly; the requests concerned are refused to some of their sources.
const ReasonRouteOverlap = "RouteOverlap"

// smiMethods are the methods SMI names (a grant of "*" also allows others).
var smiMethods = []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}

// Characters a request can carry: a path has no control characters or
// spaces (RFC 9112 §3.2), a header value no CR, LF or NUL (RFC 9110 §5.5).
// The languages are related on those strings only.
var (
	pathText   = []rangeOf{{0, ' '}, {0x7f, 0x7f}}
	headerText = []rangeOf{{0, 0}, {'\n', '\n'}, {'\r', '\r'}}
	// anyPath and oneCharPath are full-match regexes of every path and of
	// the paths of one character (the only ones on which a "/" prefix
	// ranks as high as a regex).
	anyPath     = `^(?s:.*)$`
	oneCharPath = `^(?s:.)$`
)

// portGrant is one distinct HTTP match granted on a port and its sources.
type portGrant struct {
	key     string
	match   model.HTTPMatch
	sources []model.Identity
	label   string // where the match comes from, for messages
}

// plannedRoute is one HTTPRoute of a Server.
type plannedRoute struct {
	// grant is the grant it serves; -1 for the catch-all, -2 for the
	// intersection of grants both (and below).
	grant int
	both  [2]int
	match model.HTTPMatch // the grant's match, maybe narrowed
	// expanded: the route also matches each SMI method explicitly (it then
	// ranks above method-less routes for them).
	expanded bool
	// sources: every source SMI grants on every request of match (the
	// sources granted all traffic aside: the Server authorizes them).
	sources []model.Identity
	// literal is the grant's path when it is a plain literal prefix
	// (literalPath); excluded are literal paths taken out of it (they
	// belong to routes nested in it), and pieces those routes (indices of
	// the plan's routes, then its intersections): with them the route
	// matches all its grant's requests.
	literal  string
	excluded []string
	pieces   []int
}

// routePlan is what planRoutes decides for one Server.
type routePlan struct {
	routes []plannedRoute // one per grant, in grant order
	// intersections: a route for the requests two partly overlapping
	// grants share, where one can be written that ranks above both.
	intersections []plannedRoute
	catchAll      bool // a catch-all route keeps the L4 sources' other requests reachable
	gaps          []routeGap
}

// routeGap: sources of a grant that some of its requests may be refused
// to, and the diagnostic saying so (its Object not set); grant -1: any.
type routeGap struct {
	grant   int
	missing []model.Identity
	diag    *model.Diagnostic
}

// planRoutes plans the HTTPRoutes of one Server port: the grants' routes
// (with the sources each must authorize), whether the catch-all route of
// the sources granted all traffic (l4) is needed, and the diagnostics of
// what cannot be carried exactly. Diagnostics name no object yet.
func planRoutes(port int32, grants []portGrant, l4 []model.Identity) routePlan {
	var plan routePlan
	for i, g := range grants {
		lit, _ := literalPath(g.match.PathRegex)
		plan.routes = append(plan.routes, plannedRoute{grant: i, match: g.match, sources: g.sources, literal: lit})
	}
	all := plannedRoute{grant: -1}
	plan.catchAll = len(l4) > 0 && !slices.ContainsFunc(grants, func(g portGrant) bool { return covers(g.match, all.match) })
	separate(&plan, grants, l4, &all)
	narrow(&plan)
	for i := range plan.routes {
		plan.routes[i].sources = routeSources(grants, plan.routes[i])
	}
	plan.catchAll = len(l4) > 0 && !slices.ContainsFunc(plan.routes, func(r plannedRoute) bool { return covers(r.match, all.match) })
	switch {
	case len(grants) > maxCheckedGrants:
		plan.gaps = uncheckedGaps(port, grants, l4)
	case len(grants) > maxIntersectedGrants:
		plan.gaps = gaps(port, grants, l4, plan.candidates(plan.routes, nil, all))
	default:
		plan.gaps = gaps(port, grants, l4, plan.candidates(plan.routes, nil, all))
		addIntersections(&plan, port, grants, l4, all)
	}
	return plan
}

// candidates: the routes that may be a request's best, with intersections
// xs and the catch-all when the plan has it.
func (plan *routePlan) candidates(routes, xs []plannedRoute, all plannedRoute) []plannedRoute {
	out := append(slices.Clone(routes), xs...)
	if plan.catchAll {
		out = append(out, all)
	}
	return out
}

// addIntersections adds the intersection routes (cutting them out of the
// parents that would rank as high) that leave fewer gaps and no new one:
// one may rank with a third route as high as that one.
func addIntersections(plan *routePlan, port int32, grants []portGrant, l4 []model.Identity, all plannedRoute) {
	for _, c := range intersections(grants, plan.routes, l4) {
		routes := slices.Clone(plan.routes)
		xi := len(routes) + len(plan.intersections)
		ok := true
		for _, pi := range c.narrow {
			r := &routes[pi]
			r.excluded = append(slices.Clone(r.excluded), c.route.literal)
			r.pieces = append(slices.Clone(r.pieces), xi)
			ok = ok && narrowRoute(r, grants[pi].match)
			r.sources = routeSources(grants, *r)
		}
		if !ok {
			continue
		}
		try := append(slices.Clone(plan.intersections), c.route)
		if g := gaps(port, grants, l4, plan.candidates(routes, try, all)); fewerGaps(g, plan.gaps) {
			plan.routes, plan.intersections, plan.gaps = routes, try, g
		}
	}
}

// Planning budgets: the gap analysis is cubic in the distinct HTTP
// matches granted on a port, the search for intersection routes runs it
// again for each candidate.
const (
	maxCheckedGrants     = 32
	maxIntersectedGrants = 12
)

// uncheckedGaps: past maxCheckedGrants, one diagnostic for the port when
// grants of different sources may overlap (what overlaps is not analysed).
func uncheckedGaps(port int32, grants []portGrant, l4 []model.Identity) []routeGap {
	for a := range grants {
		for b := a + 1; b < len(grants); b++ {
			if !slices.Equal(minus(grants[a].sources, l4), minus(grants[b].sources, l4)) && mayOverlap(grants[a].match, grants[b].match) {
				return []routeGap{{grant: -1, diag: &model.Diagnostic{Severity: model.SeverityWarning, Reason: ReasonRouteOverlap, Field: "spec.rules", Message: fmt.Sprintf(
					"port %d: %d distinct HTTP matches are granted, too many to check how they overlap: Linkerd authorizes each request on its one best-matching HTTPRoute only, so a request that matches several grants may be refused to some of their sources (fail closed)", port, len(grants))}}}
			}
		}
	}
	return nil
}

// fewerGaps: every gap of a is one of b, and b has more.
func fewerGaps(a, b []routeGap) bool {
	msgs := map[string]bool{}
	for _, g := range b {
		msgs[g.diag.Message] = true
	}
	for _, g := range a {
		if !msgs[g.diag.Message] {
			return false
		}
	}
	return len(a) < len(b)
}

// separate makes each route nested in another that may rank as high on
// its requests rank above it, or match none of them, when the outer route
// lacks sources of the inner one.
func separate(plan *routePlan, grants []portGrant, l4 []model.Identity, all *plannedRoute) {
	outers := make([]*plannedRoute, 0, len(plan.routes)+1)
	for i := range plan.routes {
		outers = append(outers, &plan.routes[i])
	}
	if plan.catchAll {
		outers = append(outers, all)
	}
	for i := range plan.routes {
		in := &plan.routes[i]
		for _, out := range outers {
			if out == in || !covers(out.match, in.match) || covers(in.match, out.match) {
				continue
			}
			lost := minus(minus(grants[i].sources, l4), routeSources(grants, *out))
			if len(lost) == 0 {
				continue
			}
			if known, ext := mayRankAbove(*out, *in); !known && !ext {
				continue
			}
			if lit, ok := narrowable(*out, *in); ok {
				out.excluded = append(out.excluded, lit)
				out.pieces = append(out.pieces, i)
				continue
			}
			if out.match.PathRegex != "" && in.match.PathRegex == "" {
				// out's path matches every path (out covers in): in keeps
				// its requests and ranks as high on the path.
				in.match.PathRegex = out.match.PathRegex
			}
			if len(in.match.Methods) == 0 && len(out.match.Methods) == 0 {
				in.expanded = true
			}
		}
	}
}

// narrowable: in and out differ only in their literal paths, out's a
// prefix of in's: out can leave in's path out (in's literal is returned).
func narrowable(out, in plannedRoute) (string, bool) {
	if out.grant < 0 || out.literal == "" || !slices.Equal(out.match.Methods, in.match.Methods) || !slices.Equal(out.match.Headers, in.match.Headers) {
		return "", false
	}
	b := in.literal
	if b == "" {
		b, _ = literalPath(in.match.PathRegex)
	}
	if len(b) <= len(out.literal) || !strings.HasPrefix(b, out.literal) {
		return "", false
	}
	return b, true
}

// narrow writes each route's excluded literal paths out of its path.
func narrow(plan *routePlan) {
	for i := range plan.routes {
		if len(plan.routes[i].excluded) > 0 {
			narrowRoute(&plan.routes[i], plan.routes[i].match)
		}
	}
}

// narrowRoute writes r's excluded literal paths out of its literal path;
// a route whose narrowed path cannot be written, or would pass Linkerd's
// path length, keeps its grant's match (false: the overlap is reported).
func narrowRoute(r *plannedRoute, grant model.HTTPMatch) bool {
	re, ok := excludingPrefixes(r.literal, r.excluded)
	if !ok || len(re) > maxPathValue {
		r.match.PathRegex, r.excluded, r.pieces = grant.PathRegex, nil, nil
		return false
	}
	r.match.PathRegex = re
	return true
}

// routeSources: the route's own grant's sources and those of every grant
// whose match covers the route's.
func routeSources(grants []portGrant, r plannedRoute) []model.Identity {
	var out []model.Identity
	for j, g := range grants {
		if j == r.grant || covers(g.match, r.match) {
			for _, id := range g.sources {
				out = appendID(out, id)
			}
		}
	}
	return sortIDs(out)
}

// gaps reports, for every grant, the routes that may be best for some of
// its requests without authorizing its sources, unless routes that do
// authorize them match all those requests and always rank above.
func gaps(port int32, grants []portGrant, l4 []model.Identity, routes []plannedRoute) []routeGap {
	var out []routeGap
	for j, g := range grants {
		need := minus(g.sources, l4)
		if len(need) == 0 {
			continue
		}
		for wi, w := range routes {
			missing := minus(need, w.sources)
			if w.grant == j || len(missing) == 0 || !mayOverlap(g.match, w.match) {
				continue
			}
			extRelevant := len(g.match.Methods) == 0 && len(w.match.Methods) == 0
			// above: c authorizes need and always ranks above w (for
			// requests with an SMI method: known; with another: ext).
			above := func(c plannedRoute) (known, ext bool) {
				if len(minus(need, c.sources)) > 0 {
					return false, false
				}
				k, e := mayRankAbove(w, c)
				return !k, !extRelevant || !e
			}
			bestKnown, bestExt := false, false
			for ci, c := range routes {
				var known, ext bool
				switch {
				case ci == wi:
					continue
				case coversBoth(c.match, g.match, w.match):
					known, ext = above(c)
				case c.grant == j && len(c.pieces) > 0:
					// c and the routes cut out of it match all of g.
					known, ext = above(c)
					for _, pi := range c.pieces {
						k, e := above(routes[pi])
						known, ext = known && k, ext && e
					}
				}
				if known && ext {
					bestKnown, bestExt = true, true
					break
				}
				bestKnown = bestKnown || known
			}
			if bestKnown && bestExt {
				continue
			}
			out = append(out, routeGap{grant: j, missing: missing, diag: gapDiagnostic(port, g, w, grants, missing, bestKnown)})
		}
	}
	return out
}

// candidate is an intersection route and the routes it is cut out of
// (narrowable: else they would rank as high on its requests).
type candidate struct {
	route  plannedRoute
	narrow []int
}

// intersections: for each two grants that partly overlap (neither covers
// the other) and lack each other's sources, a route matching exactly the
// requests both match, authorizing the sources of every grant covering
// it — when it can be written (in each of path, methods and each header,
// one side's match covers the other's) and ranks above both routes on
// every request it matches (it adds a path, a method or headers to each),
// or above one and can be cut out of the other (narrowable).
func intersections(grants []portGrant, routes []plannedRoute, l4 []model.Identity) []candidate {
	var out []candidate
	for a := range routes {
		for b := a + 1; b < len(routes); b++ {
			ra, rb := routes[a], routes[b]
			if covers(ra.match, rb.match) || covers(rb.match, ra.match) || !mayOverlap(ra.match, rb.match) {
				continue
			}
			if len(minus(minus(grants[a].sources, l4), rb.sources)) == 0 && len(minus(minus(grants[b].sources, l4), ra.sources)) == 0 {
				continue
			}
			m, ok := intersect(ra.match, rb.match)
			if !ok || slices.ContainsFunc(routes, func(r plannedRoute) bool { return covers(r.match, m) && covers(m, r.match) }) {
				continue
			}
			lit, _ := literalPath(m.PathRegex)
			c := candidate{route: plannedRoute{grant: -2, both: [2]int{a, b}, match: m, literal: lit}}
			viable := true
			for _, pi := range []int{a, b} {
				_, cut := narrowable(routes[pi], c.route)
				switch {
				case ranksAbove(c.route, routes[pi]):
				case lit != "" && cut:
					c.narrow = append(c.narrow, pi)
				default:
					viable = false
				}
			}
			if !viable {
				continue
			}
			c.route.sources = routeSources(grants, c.route)
			out = append(out, c)
		}
	}
	return out
}

// ranksAbove: x scores higher than r on every request both match.
func ranksAbove(x, r plannedRoute) bool {
	known, ext := mayRankAbove(r, x)
	return !known && !(ext && len(x.match.Methods) == 0) && !r.expanded
}

// intersect is the match of the requests both a and b match, when one can
// be written: in the path, the methods and each header, one side covers
// the other (the narrower is kept).
func intersect(a, b model.HTTPMatch) (model.HTTPMatch, bool) {
	var out model.HTTPMatch
	switch {
	case len(a.Methods) == 0:
		out.Methods = b.Methods
	case len(b.Methods) == 0:
		out.Methods = a.Methods
	default:
		for _, m := range a.Methods {
			if slices.Contains(b.Methods, m) {
				out.Methods = append(out.Methods, m)
			}
		}
		if len(out.Methods) == 0 {
			return out, false
		}
	}
	path, ok := narrower(a.PathRegex, b.PathRegex, pathText)
	if !ok {
		return out, false
	}
	out.PathRegex = path
	byName := map[string]string{}
	for _, h := range append(slices.Clone(a.Headers), b.Headers...) {
		name := strings.ToLower(h.Name)
		prev, seen := byName[name]
		if !seen {
			byName[name] = h.Regex
			continue
		}
		re, ok := narrower(fullHeader(prev), fullHeader(h.Regex), headerText)
		if !ok {
			return out, false
		}
		if re == fullHeader(h.Regex) {
			byName[name] = h.Regex
		}
	}
	for name, re := range byName {
		out.Headers = append(out.Headers, model.HeaderMatch{Name: name, Regex: re})
	}
	sort.Slice(out.Headers, func(i, j int) bool { return out.Headers[i].Name < out.Headers[j].Name })
	return out, true
}

// narrower: of two full-match regexes ("" any string), the one whose
// language the other's contains; ok false when neither does.
func narrower(a, b string, text []rangeOf) (string, bool) {
	switch {
	case a == "":
		return b, true
	case b == "" || a == b:
		return a, true
	}
	rel, ok := relate(a, b, text)
	switch {
	case !ok:
		return "", false
	case rel.AInB:
		return a, true
	case rel.BInA:
		return b, true
	}
	return "", false
}

// coversBoth says whether every request both a and b match, c matches
// (a sufficient condition: c's methods, each of its headers and its path
// cover what a or b requires).
func coversBoth(c, a, b model.HTTPMatch) bool {
	if len(c.Methods) > 0 {
		var both []string
		switch {
		case len(a.Methods) == 0:
			both = b.Methods
		case len(b.Methods) == 0:
			both = a.Methods
		default:
			for _, m := range a.Methods {
				if slices.Contains(b.Methods, m) {
					both = append(both, m)
				}
			}
		}
		if len(both) == 0 || !subset(both, c.Methods) {
			return false
		}
	}
	headers := model.HTTPMatch{Headers: append(slices.Clone(a.Headers), b.Headers...)}
	if !covers(model.HTTPMatch{Headers: c.Headers}, headers) {
		return false
	}
	if c.PathRegex == "" {
		return true
	}
	pathOf := func(m model.HTTPMatch) bool {
		return m.PathRegex != "" && covers(model.HTTPMatch{PathRegex: c.PathRegex}, model.HTTPMatch{PathRegex: m.PathRegex})
	}
	return pathOf(a) || pathOf(b)
}

func gapDiagnostic(port int32, g portGrant, w plannedRoute, grants []portGrant, missing []model.Identity, extOnly bool) *model.Diagnostic {
	other := "the catch-all route of the sources granted all traffic"
	switch {
	case w.grant >= 0:
		other = grants[w.grant].label
	case w.grant == -2:
		other = fmt.Sprintf("both %s and %s", grants[w.both[0]].label, grants[w.both[1]].label)
	}
	which := "requests that also match " + other
	sev := model.SeverityError
	if extOnly {
		which = fmt.Sprintf("requests that also match %s with a method other than %s", other, strings.Join(smiMethods, ", "))
		sev = model.SeverityWarning
	}
	return &model.Diagnostic{Severity: sev, Reason: ReasonRouteOverlap, Field: "spec.rules", Message: fmt.Sprintf(
		"port %d: %s is granted to %s, but Linkerd authorizes each request on its one best-matching HTTPRoute only, and on %s that may be a route that does not authorize them, whichever way the routes are written: those requests are refused to them (fail closed)",
		port, g.label, idList(missing), which)}
}

func idList(ids []model.Identity) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.String()
	}
	return strings.Join(parts, ", ")
}

func minus(a, b []model.Identity) []model.Identity {
	var out []model.Identity
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}

// mayRankAbove says whether route a may be chosen over route b for a
// request both match: a's best match scores at least b's (a tie goes to
// a, which may be the older route), for requests with a method SMI names
// (known) and with another method (ext).
func mayRankAbove(a, b plannedRoute) (known, ext bool) {
	pa, pb := a.match.PathRegex != "", b.match.PathRegex != ""
	switch {
	case pa && !pb:
		return true, true // a regex counts the whole path, at least b's "/"
	case !pa && pb && !mayBeOneChar(b.match.PathRegex):
		return false, false // b counts the whole path, longer than a's "/"
	}
	ha, hb := len(a.match.Headers), len(b.match.Headers)
	ma, mb := len(a.match.Methods) > 0 || a.expanded, len(b.match.Methods) > 0 || b.expanded
	known = (ma && !mb) || (ma == mb && ha >= hb)
	ext = len(a.match.Methods) == 0 && len(b.match.Methods) == 0 && ha >= hb
	return known, ext
}

func mayBeOneChar(path string) bool {
	rel, ok := relate(path, oneCharPath, pathText)
	return !ok || rel.Overlap
}

// covers says whether every request inner matches, outer matches; false
// when that cannot be decided.
func covers(outer, inner model.HTTPMatch) bool {
	if len(outer.Methods) > 0 && (len(inner.Methods) == 0 || !subset(inner.Methods, outer.Methods)) {
		return false
	}
	for _, ho := range outer.Headers {
		if !slices.ContainsFunc(inner.Headers, func(hi model.HeaderMatch) bool {
			if !strings.EqualFold(hi.Name, ho.Name) {
				return false
			}
			rel, ok := relate(fullHeader(hi.Regex), fullHeader(ho.Regex), headerText)
			return ok && rel.AInB
		}) {
			return false
		}
	}
	if outer.PathRegex == "" {
		return true
	}
	innerPath := inner.PathRegex
	if innerPath == "" {
		innerPath = anyPath
	}
	rel, ok := relate(innerPath, outer.PathRegex, pathText)
	return ok && rel.AInB
}

// mayOverlap says whether some request matches both a and b; true when
// that cannot be decided.
func mayOverlap(a, b model.HTTPMatch) bool {
	if len(a.Methods) > 0 && len(b.Methods) > 0 && !slices.ContainsFunc(a.Methods, func(m string) bool { return slices.Contains(b.Methods, m) }) {
		return false
	}
	for _, ha := range a.Headers {
		for _, hb := range b.Headers {
			if strings.EqualFold(ha.Name, hb.Name) {
				if rel, ok := relate(fullHeader(ha.Regex), fullHeader(hb.Regex), headerText); ok && !rel.Overlap {
					return false
				}
			}
		}
	}
	if a.PathRegex != "" && b.PathRegex != "" {
		if rel, ok := relate(a.PathRegex, b.PathRegex, pathText); ok && !rel.Overlap {
			return false
		}
	}
	return true
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// fullHeader: the full-match form of a model header regex.
func fullHeader(re string) string { return "^(?:" + re + ")$" }

// literalPath: α of a model path regex ^(?:α).*$ whose SMI regex is a
// plain literal (no class, repetition or case folding).
func literalPath(re string) (string, bool) {
	if re == "" {
		return "", false
	}
	p, err := syntax.Parse(re, syntax.Perl)
	if err != nil || p.Op != syntax.OpConcat || len(p.Sub) != 4 {
		return "", false
	}
	s := p.Sub
	if s[0].Op != syntax.OpBeginText || s[1].Op != syntax.OpLiteral || s[1].Flags&syntax.FoldCase != 0 ||
		s[2].Op != syntax.OpStar || s[2].Sub[0].Op != syntax.OpAnyCharNotNL || s[3].Op != syntax.OpEndText {
		return "", false
	}
	return string(s[1].Rune), true
}

// excludingPrefixes is a full-match path regex, dialect-neutral, of the
// paths that start with alpha and with none of the literals (each longer
// than alpha and starting with it): alpha, then a rest that no suffix
// begins (a trie of the suffixes, each node allowing the path to end or to
// go on with a character no suffix goes on with).
func excludingPrefixes(alpha string, literals []string) (string, bool) {
	root := &trieNode{}
	for _, l := range literals {
		root.add([]rune(l[len(alpha):]))
	}
	rest, ok := root.notPrefixed()
	if !ok {
		return "", false
	}
	neutral, err := neutralregex.Print(regexp.QuoteMeta(alpha) + rest)
	if err != nil {
		return "", false
	}
	return "^(?:" + neutral + ")$", true
}

type trieNode struct {
	end      bool
	children map[rune]*trieNode
}

func (n *trieNode) add(word []rune) {
	for _, r := range word {
		if n.children == nil {
			n.children = map[rune]*trieNode{}
		}
		c := n.children[r]
		if c == nil {
			c = &trieNode{}
			n.children[r] = c
		}
		n = c
	}
	n.end = true
}

// notPrefixed: an RE2 regex of the strings without a newline that no word
// under n begins; ok false for none (n ends a word).
func (n *trieNode) notPrefixed() (string, bool) {
	if n.end {
		return "", false
	}
	keys := make([]rune, 0, len(n.children))
	for r := range n.children {
		keys = append(keys, r)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	class := `[^\n`
	alts := []string{""}
	for _, r := range keys {
		class += fmt.Sprintf(`\x{%x}`, r)
		if sub, ok := n.children[r].notPrefixed(); ok {
			alts = append(alts, regexp.QuoteMeta(string(r))+sub)
		}
	}
	alts = append(alts, class+"].*")
	return "(?:" + strings.Join(alts, "|") + ")", true
}
