package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// maxMessage bounds a condition message (the API allows 32768 bytes).
const maxMessage = 4096

// statusOf returns the status block of an SMI hub object.
func statusOf(obj client.Object) *common.Status {
	switch o := obj.(type) {
	case *accessv1alpha3.TrafficTarget:
		return &o.Status
	case *splitv1alpha4.TrafficSplit:
		return &o.Status
	case *specsv1alpha4.HTTPRouteGroup:
		return &o.Status
	case *specsv1alpha4.TCPRoute:
		return &o.Status
	case *specsv1alpha4.UDPRoute:
		return &o.Status
	}
	panic(fmt.Sprintf("statusOf: %T is not an SMI hub object", obj))
}

// acceptedCondition summarises an object's diagnostics: False with the first
// error's reason when it has errors, else True (warnings in the message).
func acceptedCondition(gen int64, diags []*model.Diagnostic) metav1.Condition {
	c := metav1.Condition{Type: common.ConditionAccepted, Status: metav1.ConditionTrue, Reason: model.ReasonAccepted, ObservedGeneration: gen}
	var errs, warns []string
	for _, d := range diags {
		if d.Severity == model.SeverityError {
			if len(errs) == 0 {
				c.Status, c.Reason = metav1.ConditionFalse, d.Reason
			}
			errs = append(errs, d.Error())
		} else {
			warns = append(warns, d.Error())
		}
	}
	switch {
	case len(errs) > 0:
		c.Message = strings.Join(append(errs, warns...), "; ")
	case len(warns) > 0:
		c.Message = "Accepted with warnings: " + strings.Join(warns, "; ")
	default:
		c.Message = "Valid and all references resolved"
	}
	if len(c.Message) > maxMessage {
		c.Message = c.Message[:maxMessage-3] + "..."
	}
	return c
}

// programmedCondition: False on a sync error, or with the first error the
// backend reported for the object (e.g. UnsupportedMatch: it failed closed);
// False with reason NotAccepted when the object is not Accepted (the mesh
// does not carry it as written, whatever part of it is valid is in sync);
// True otherwise, with the backend's warnings in the message.
func programmedCondition(gen int64, backend string, accepted metav1.Condition, syncErr error, diags []*model.Diagnostic) metav1.Condition {
	var errs, warns []string
	reason := ""
	for _, d := range diags {
		if d.Severity == model.SeverityError {
			if reason == "" {
				reason = d.Reason
			}
			errs = append(errs, d.Error())
		} else {
			warns = append(warns, d.Error())
		}
	}
	if syncErr == nil && len(errs) > 0 {
		msg := fmt.Sprintf("backend %s: %s", backend, strings.Join(append(errs, warns...), "; "))
		if len(msg) > maxMessage {
			msg = msg[:maxMessage-3] + "..."
		}
		return metav1.Condition{Type: common.ConditionProgrammed, Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: gen}
	}
	if syncErr != nil {
		msg := fmt.Sprintf("backend %s: %v", backend, syncErr)
		if len(msg) > maxMessage {
			msg = msg[:maxMessage-3] + "..."
		}
		return metav1.Condition{Type: common.ConditionProgrammed, Status: metav1.ConditionFalse, Reason: "BackendError", Message: msg, ObservedGeneration: gen}
	}
	if accepted.Status != metav1.ConditionTrue {
		return metav1.Condition{Type: common.ConditionProgrammed, Status: metav1.ConditionFalse, Reason: model.ReasonNotAccepted,
			Message:            fmt.Sprintf("backend %s: not Accepted (%s), so not programmed as written: only what is valid of it is in sync", backend, accepted.Reason),
			ObservedGeneration: gen}
	}
	msg := fmt.Sprintf("backend %s is in sync", backend)
	if len(warns) > 0 {
		msg += " with warnings: " + strings.Join(warns, "; ")
		if len(msg) > maxMessage {
			msg = msg[:maxMessage-3] + "..."
		}
	}
	return metav1.Condition{Type: common.ConditionProgrammed, Status: metav1.ConditionTrue, Reason: "Programmed", Message: msg, ObservedGeneration: gen}
}

type writtenStatus struct {
	fromRV string
	conds  []metav1.Condition
}

// sameConditions compares conditions without their transition times.
func sameConditions(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.LastTransitionTime, y.LastTransitionTime = metav1.Time{}, metav1.Time{}
		if x != y {
			return false
		}
	}
	return true
}

// statusChanges: setting conds on obj changes its status, and this
// reconciler has not already written that status from the version it reads.
func (r *Reconciler) statusChanges(obj client.Object, conds []metav1.Condition) bool {
	have := statusOf(obj).Conditions
	want := append([]metav1.Condition(nil), have...)
	for _, c := range conds {
		meta.SetStatusCondition(&want, c)
	}
	if equality.Semantic.DeepEqual(have, want) {
		return false
	}
	// The cache may not have seen our last patch yet: the same patch from the
	// same version is a write that changes nothing.
	if w, ok := r.written.Load(obj.GetUID()); ok {
		if last := w.(writtenStatus); last.fromRV == obj.GetResourceVersion() && sameConditions(last.conds, want) {
			return false
		}
	}
	return true
}

// writeStatus sets the conditions on obj and patches its status when they
// changed; it emits Events for an Accepted condition that changed and is not
// plainly True. It returns whether it wrote.
func (r *Reconciler) writeStatus(ctx context.Context, obj client.Object, conds []metav1.Condition, diags []*model.Diagnostic) (bool, error) {
	before := obj.DeepCopyObject().(client.Object)
	if !r.statusChanges(obj, conds) {
		return false, nil
	}
	st := statusOf(obj)
	for _, c := range conds {
		meta.SetStatusCondition(&st.Conditions, c)
	}
	if err := r.client.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
		return false, fmt.Errorf("patch status of %s %s/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	statusWrites.WithLabelValues(kindOf(obj)).Inc()
	logf.FromContext(ctx).V(1).Info("status written", "object", kindOf(obj)+" "+obj.GetNamespace()+"/"+obj.GetName(), "generation", obj.GetGeneration(), "fromResourceVersion", before.GetResourceVersion(), "had", statusOf(before).Conditions, "now", st.Conditions)
	r.written.Store(obj.GetUID(), writtenStatus{fromRV: before.GetResourceVersion(), conds: append([]metav1.Condition(nil), st.Conditions...)})
	changed := false
	for _, typ := range []string{common.ConditionAccepted, common.ConditionProgrammed} {
		prev := meta.FindStatusCondition(statusOf(before).Conditions, typ)
		now := meta.FindStatusCondition(st.Conditions, typ)
		if now != nil && (prev == nil || prev.Status != now.Status || prev.Reason != now.Reason || prev.Message != now.Message) {
			changed = true
		}
	}
	if r.recorder != nil && changed {
		for _, d := range diags {
			typ := corev1.EventTypeWarning
			r.recorder.Eventf(obj, nil, typ, d.Reason, "Validate", "%s", d.Error())
		}
	}
	return true, nil
}
