{{/*
The backend, checked: rendering fails on anything but a known mesh.
*/}}
{{- define "smi-adapter.backend" -}}
{{- $known := list "istio" "linkerd" "consul" -}}
{{- if not .Values.backend -}}
{{- fail "backend is required: set backend to istio, linkerd or consul" -}}
{{- end -}}
{{- if not (has .Values.backend $known) -}}
{{- fail (printf "backend %q is not known (known: istio, linkerd, consul)" (toString .Values.backend)) -}}
{{- end -}}
{{- .Values.backend -}}
{{- end -}}

{{/*
The Traffic Metrics API's Prometheus: prometheusURL, else the mesh's usual one
(the overlays' --prometheus-url).
*/}}
{{- define "smi-adapter.prometheusURL" -}}
{{- $defaults := dict "istio" "http://prometheus.istio-system:9090" "linkerd" "http://prometheus.linkerd-viz:9090" "consul" "http://prometheus-server.consul:80" -}}
{{- .Values.prometheusURL | default (get $defaults (include "smi-adapter.backend" .)) -}}
{{- end -}}

{{/*
The certificate mode, checked (as the binary's --cert-mode).
*/}}
{{- define "smi-adapter.certMode" -}}
{{- if not (has .Values.certMode (list "self" "external")) -}}
{{- fail (printf "certMode %q is neither self nor external" (toString .Values.certMode)) -}}
{{- end -}}
{{- if and (eq .Values.certMode "external") (not .Values.externalCertSecret) -}}
{{- fail "certMode external needs externalCertSecret: the Secret (tls.crt, tls.key) mounted at /tmp/k8s-webhook-server/serving-certs" -}}
{{- end -}}
{{- .Values.certMode -}}
{{- end -}}
