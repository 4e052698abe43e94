package normalize

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// diag builds a diagnostic; fld may be nil.
func diag(ref model.ObjectRef, sev model.Severity, reason string, fld *field.Path, msg string) *model.Diagnostic {
	d := &model.Diagnostic{Object: ref, Severity: sev, Reason: reason, Message: msg}
	if fld != nil {
		d.Field = fld.String()
	}
	return d
}

// fieldErrors turns field errors into Error diagnostics with the given reason.
func fieldErrors(p model.Problems, ref model.ObjectRef, reason string, errs field.ErrorList) {
	for _, e := range errs {
		p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityError, Reason: reason, Field: e.Field, Message: e.ErrorBody()})
	}
}
