package model

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-multierror"
)

// Severity of a diagnostic.
type Severity string

// Severities: an Error makes the object not Accepted; a Warning is reported
// as an Event and in the condition message, and the object is still used.
const (
	SeverityError   Severity = "Error"
	SeverityWarning Severity = "Warning"
)

// Condition reasons (CamelCase, Gateway API style).
const (
	ReasonAccepted       = "Accepted"
	ReasonInvalid        = "Invalid"
	ReasonRefNotFound    = "RefNotFound"
	ReasonConflict       = "Conflict"
	ReasonCrossNamespace = "CrossNamespace"
	ReasonNoTraffic      = "NoTraffic"
	ReasonPortMismatch   = "BackendPortMismatch"
	ReasonNotExact       = "SelectorNotExact"
	// ReasonUnsupportedMatch: valid SMI that no mesh can be told exactly (a
	// regex with no dialect-neutral form); backends use it too, for what
	// their own mesh cannot express. The rule or split fails closed.
	ReasonUnsupportedMatch = "UnsupportedMatch"
	// ReasonNotAccepted is Programmed's reason while Accepted is not True.
	ReasonNotAccepted = "NotAccepted"
)

// Diagnostic is one problem found in one SMI object. It is an error so that
// several can be gathered with go-multierror.
type Diagnostic struct {
	Object   ObjectRef `json:"object"`
	Severity Severity  `json:"severity"`
	Reason   string    `json:"reason"`
	// Field is the field path (k8s.io/apimachinery/pkg/util/validation/field style).
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (d *Diagnostic) Error() string {
	if d.Field != "" {
		return fmt.Sprintf("%s: %s", d.Field, d.Message)
	}
	return d.Message
}

// Problems gathers diagnostics per object (keyed without the generation).
type Problems map[ObjectRef]*multierror.Error

func problemKey(ref ObjectRef) ObjectRef {
	ref.Generation = 0
	return ref
}

// Add records a diagnostic on its object.
func (p Problems) Add(d *Diagnostic) {
	k := problemKey(d.Object)
	p[k] = multierror.Append(p[k], d)
}

// Merge adds all of other's diagnostics.
func (p Problems) Merge(other Problems) {
	for ref, err := range other {
		for _, e := range err.Errors {
			p[ref] = multierror.Append(p[ref], e)
		}
	}
}

// Diagnostics returns the diagnostics recorded for one object, in order.
func (p Problems) Diagnostics(ref ObjectRef) []*Diagnostic {
	err := p[problemKey(ref)]
	if err == nil {
		return nil
	}
	out := make([]*Diagnostic, 0, len(err.Errors))
	for _, e := range err.Errors {
		var d *Diagnostic
		if errors.As(e, &d) {
			out = append(out, d)
		}
	}
	return out
}
