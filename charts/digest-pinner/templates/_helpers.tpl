{{/*
Helpers for the templates. Object names are fixed (digest-pinner): one release
per cluster, and `digest-pinner certs`, the Role's Lease name and the docs name them.
*/}}

{{/* The image reference: repository:tag, and @digest when image.digest is set. */}}
{{- define "digest-pinner.image" -}}
{{- .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/* A memory quantity (schema: digits and an optional unit) in MiB, rounded down. */}}
{{- define "digest-pinner.mebibytes" -}}
{{- $quantity := toString . -}}
{{- $digits := regexFind "^[0-9]+" $quantity -}}
{{- $units := dict "" 1 "k" 1000 "Ki" 1024 "M" 1000000 "Mi" 1048576 "G" 1000000000 "Gi" 1073741824 "T" 1000000000000 "Ti" 1099511627776 -}}
{{- div (mul (int64 $digits) (get $units (trimPrefix $digits $quantity))) 1048576 -}}
{{- end }}

{{/* True when extraEnv sets the variable named by .name. */}}
{{- define "digest-pinner.extraEnvHas" -}}
{{- range .env }}{{ if eq .name $.name }}true{{ end }}{{ end -}}
{{- end }}

{{/* The longer of the two entries' timeoutSeconds. */}}
{{- define "digest-pinner.maxTimeoutSeconds" -}}
{{- max .Values.webhook.warn.timeoutSeconds .Values.webhook.strict.timeoutSeconds -}}
{{- end }}

{{/*
namespaceSelector of the entry for one mode (.mode), shared by the webhook
entries and the strict policy binding so they always select alike.
*/}}
{{- define "digest-pinner.namespaceSelector" -}}
{{- with .root.Values.namespaceSelector.matchLabels }}
matchLabels:
  {{- toYaml . | nindent 2 }}
{{- end }}
matchExpressions:
  - key: digest-pinner.io/mode
    operator: In
    values: [{{ .mode }}]
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: [kube-system, {{ .root.Release.Namespace }}]
{{- with .root.Values.namespaceSelector.matchExpressions }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* objectSelector: the opt-out label, and objectSelector from the values. */}}
{{- define "digest-pinner.objectSelector" -}}
{{- with .Values.objectSelector.matchLabels }}
matchLabels:
  {{- toYaml . | nindent 2 }}
{{- end }}
matchExpressions:
  - key: digest-pinner.io/skip
    operator: NotIn
    values: ["true"]
{{- with .Values.objectSelector.matchExpressions }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The metrics Service exists when asked for, or when a ServiceMonitor needs it. */}}
{{- define "digest-pinner.metricsService" -}}
{{- if or .Values.metrics.service.enabled .Values.metrics.serviceMonitor.enabled }}true{{ end -}}
{{- end }}
