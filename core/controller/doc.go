// Package controller wires smi-adapter into controller-runtime: it watches the
// SMI hub versions, Services and Pods; indexes them so that one change maps to
// the few reconcile keys (model.Key) it affects; reconciles a key by building
// its model slice (core/normalize) and handing it to the selected Backend; and
// writes Accepted/Programmed conditions and Events back on the SMI objects.
package controller
