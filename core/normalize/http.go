package normalize

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/neutralregex"
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

// HTTPMatch normalizes one SMI HTTP match. Regexes are written in their
// dialect-neutral form (core/neutralregex), so every mesh's engine reads
// them as RE2 reads the SMI text. Errors carry field paths under fld:
// invalid is what SMI itself refuses (not RE2, unknown methods),
// unsupported a regex no form of which every engine reads the same; either
// makes the match grant or split nothing.
func HTTPMatch(m specsv1alpha4.HTTPMatch, fld *field.Path) (out model.HTTPMatch, invalid, unsupported field.ErrorList) {
	var errs field.ErrorList
	neutral := func(f *field.Path, re string) string {
		w, err := neutralregex.Print(re)
		var u *neutralregex.UnsupportedError
		switch {
		case errors.As(err, &u):
			unsupported = append(unsupported, field.Invalid(f, quoteRegex(re), "no mesh engine can be given this regex so that it reads it as RE2 does: "+u.Construct))
		case err != nil:
			errs = append(errs, field.Invalid(f, quoteRegex(re), "not an RE2 regular expression: "+reError(err)))
		}
		return w
	}
	if m.PathRegex != "" {
		out.PathRegex = AnchorPath(neutral(fld.Child("pathRegex"), m.PathRegex))
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
		out.Headers = append(out.Headers, model.HeaderMatch{Name: strings.ToLower(name), Regex: neutral(fld.Child("headers").Key(name), re)})
	}
	sort.SliceStable(out.Headers, func(i, j int) bool {
		if out.Headers[i].Name != out.Headers[j].Name {
			return out.Headers[i].Name < out.Headers[j].Name
		}
		return out.Headers[i].Regex < out.Headers[j].Regex
	})
	return out, errs, unsupported
}

// maxQuoted bounds how much of a user's regex a diagnostic repeats.
const maxQuoted = 200

// quoteRegex is re as a diagnostic shows it: the SMI text, cut at maxQuoted.
func quoteRegex(re string) string {
	if len(re) > maxQuoted {
		return re[:maxQuoted] + "..."
	}
	return re
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
