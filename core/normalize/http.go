package normalize

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// KnownMethods are the HTTP methods SMI names.
var KnownMethods = []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}

// AnchorPath makes SMI's start-only anchoring explicit: the result means the
// same whether a mesh matches the whole path or searches it.
func AnchorPath(re string) string {
	if re == "" {
		return ""
	}
	return "^(?:" + re + ").*$"
}

// HTTPMatch normalizes one SMI HTTP match. Errors carry field paths under fld.
func HTTPMatch(m specsv1alpha4.HTTPMatch, fld *field.Path) (model.HTTPMatch, field.ErrorList) {
	var errs field.ErrorList
	out := model.HTTPMatch{}
	if m.PathRegex != "" {
		if _, err := regexp.Compile(m.PathRegex); err != nil {
			errs = append(errs, field.Invalid(fld.Child("pathRegex"), m.PathRegex, "not an RE2 regular expression: "+reError(err)))
		}
		out.PathRegex = AnchorPath(m.PathRegex)
	}
	any := len(m.Methods) == 0
	for i, meth := range m.Methods {
		if meth == "*" {
			any = true
			continue
		}
		up := strings.ToUpper(meth)
		if !slices.Contains(KnownMethods, up) {
			errs = append(errs, field.NotSupported(fld.Child("methods").Index(i), meth, append([]string{"*"}, KnownMethods...)))
			continue
		}
		if !slices.Contains(out.Methods, up) {
			out.Methods = append(out.Methods, up)
		}
	}
	if any {
		out.Methods = nil
	}
	sort.Strings(out.Methods)
	names := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		re := m.Headers[name]
		if name == "" {
			errs = append(errs, field.Required(fld.Child("headers"), "header name must not be empty"))
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			errs = append(errs, field.Invalid(fld.Child("headers").Key(name), re, "not an RE2 regular expression: "+reError(err)))
		}
		out.Headers = append(out.Headers, model.HeaderMatch{Name: strings.ToLower(name), Regex: re})
	}
	sort.SliceStable(out.Headers, func(i, j int) bool {
		if out.Headers[i].Name != out.Headers[j].Name {
			return out.Headers[i].Name < out.Headers[j].Name
		}
		return out.Headers[i].Regex < out.Headers[j].Regex
	})
	return out, errs
}

func reError(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "error parsing regexp: ")
}

// httpMatchKey is a canonical string of a match, for sorting and de-duplication.
func httpMatchKey(m *model.HTTPMatch) string {
	if m == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%q|%s", m.PathRegex, strings.Join(m.Methods, ","))
	for _, h := range m.Headers {
		fmt.Fprintf(&b, "|%q=%q", h.Name, h.Regex)
	}
	return b.String()
}
