package controller

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// TestProgrammedNotAccepted: an object that is not Accepted is never
// "Programmed=True in sync"; a more specific backend error keeps its reason.
func TestProgrammedNotAccepted(t *testing.T) {
	refNotFound := []*model.Diagnostic{{Severity: model.SeverityError, Reason: model.ReasonRefNotFound, Message: "Service podinfo.example.com not found"}}
	notAccepted := acceptedCondition(3, refNotFound)
	accepted := acceptedCondition(3, nil)
	failClosed := []*model.Diagnostic{{Severity: model.SeverityError, Reason: "UnsupportedMatch", Message: "regex"}}
	for _, c := range []struct {
		name     string
		accepted metav1.Condition
		syncErr  error
		diags    []*model.Diagnostic
		status   metav1.ConditionStatus
		reason   string
	}{
		{"accepted", accepted, nil, nil, metav1.ConditionTrue, "Programmed"},
		{"not accepted", notAccepted, nil, nil, metav1.ConditionFalse, model.ReasonNotAccepted},
		{"not accepted, backend error", notAccepted, nil, failClosed, metav1.ConditionFalse, "UnsupportedMatch"},
		{"not accepted, sync error", notAccepted, errors.New("down"), nil, metav1.ConditionFalse, "BackendError"},
	} {
		got := programmedCondition(3, "istio", c.accepted, c.syncErr, c.diags)
		if got.Status != c.status || got.Reason != c.reason || got.ObservedGeneration != 3 {
			t.Errorf("%s: Programmed %s %s (%q), want %s %s", c.name, got.Status, got.Reason, got.Message, c.status, c.reason)
		}
	}
}
