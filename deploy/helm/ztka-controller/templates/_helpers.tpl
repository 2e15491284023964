{{- define "ztka-controller.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ztka-controller.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := .Values.nameOverride | default .Chart.Name }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ztka-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ztka-controller.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ztka-controller.labels" -}}
{{ include "ztka-controller.selectorLabels" . }}
app.kubernetes.io/part-of: ztka
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "ztka-controller.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "ztka-controller.image" -}}
{{ .Values.image.repository }}:{{ include "ztka-controller.tag" . }}
{{- end }}

{{/* ztka-agent beside the controller's repository, with the same tag. */}}
{{- define "ztka-controller.agentImage" -}}
{{- if .Values.agentImage }}
{{- .Values.agentImage }}
{{- else }}
{{- $dir := dir .Values.image.repository }}
{{- if eq $dir "." }}ztka-agent{{ else }}{{ $dir }}/ztka-agent{{ end }}:{{ include "ztka-controller.tag" . }}
{{- end }}
{{- end }}

{{/* The URL users and agents reach: publicUrl, else the Ingress host, else the Service's in-cluster name. */}}
{{- define "ztka-controller.publicUrl" -}}
{{- if .Values.publicUrl }}
{{- .Values.publicUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.host }}
{{- printf "https://%s" .Values.ingress.host }}
{{- else }}
{{- $port := int .Values.service.port }}
{{- printf "https://%s.%s.svc%s" (include "ztka-controller.fullname" .) .Release.Namespace (ternary "" (printf ":%d" $port) (eq $port 443)) }}
{{- end }}
{{- end }}

{{/* The public URL's host, without port or brackets. */}}
{{- define "ztka-controller.publicHost" -}}
{{- (urlParse (include "ztka-controller.publicUrl" .)).hostname }}
{{- end }}

{{- define "ztka-controller.tlsSecretName" -}}
{{- .Values.tls.secretName | default (printf "%s-tls" (include "ztka-controller.fullname" .)) }}
{{- end }}

{{- define "ztka-controller.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "ztka-controller.fullname" .)) }}
{{- end }}

{{/* Checks the combinations no single value's type catches; fails the render with what to change. */}}
{{- define "ztka-controller.validate" -}}
{{- $tls := .Values.tls.source }}
{{- if not (has $tls (list "generated" "secret" "certManager")) }}
{{- fail (printf "tls.source must be generated, secret or certManager, not %q" $tls) }}
{{- end }}
{{- if and (eq $tls "secret") (not .Values.tls.secretName) }}
{{- fail "tls.source=secret needs tls.secretName: a kubernetes.io/tls Secret in the release namespace" }}
{{- end }}
{{- if and (eq $tls "certManager") (not .Values.tls.certManager.issuerRef.name) }}
{{- fail "tls.source=certManager needs tls.certManager.issuerRef.name" }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.ingress.tls (eq $tls "generated") }}
{{- fail "ingress.tls terminates TLS with the controller's certificate: set tls.source to secret or certManager (or ingress.tls=false for passthrough)" }}
{{- end }}
{{- if not (has .Values.database.type (list "sqlite" "postgres")) }}
{{- fail (printf "database.type must be sqlite or postgres, not %q" .Values.database.type) }}
{{- end }}
{{- if and (eq .Values.database.type "postgres") (not .Values.database.postgres.existingSecret) }}
{{- fail "database.type=postgres needs database.postgres.existingSecret: a Secret whose key database.postgres.key holds the postgres:// URL" }}
{{- end }}
{{- if and .Values.metrics.enabled (not .Values.metrics.tokenSecret.name) }}
{{- fail "metrics.enabled needs metrics.tokenSecret.name: a Secret holding the scrapers' bearer token" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- if not (hasPrefix "https://" (include "ztka-controller.publicUrl" .)) }}
{{- fail "publicUrl must start with https://" }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add .Values.shutdownDelaySeconds .Values.shutdownGraceSeconds) }}
{{- fail "terminationGracePeriodSeconds must be longer than shutdownDelaySeconds plus shutdownGraceSeconds: the pod is killed at the former, before the controller has written its last audit records" }}
{{- end }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- /* What replicas share must be the same for all of them: the database, the keys, the certificate. */}}
{{- if ne .Values.database.type "postgres" }}
{{- fail "replicaCount above 1 needs database.type=postgres: replicas share one PostgreSQL, and SQLite allows one process" }}
{{- end }}
{{- if eq $tls "generated" }}
{{- fail "replicaCount above 1 needs tls.source secret or certManager: each replica would generate a CA of its own" }}
{{- end }}
{{- if not .Values.secretsKeySecret.name }}
{{- fail "replicaCount above 1 needs secretsKeySecret.name: replicas must share the secrets key, or one cannot open what another sealed" }}
{{- end }}
{{- if not .Values.audit.keySecret.name }}
{{- fail "replicaCount above 1 needs audit.keySecret.name: replicas must sign audit checkpoints with one key, or each disowns the others'" }}
{{- end }}
{{- if .Values.persistence.enabled }}
{{- fail "replicaCount above 1 needs persistence.enabled=false: a ReadWriteOnce claim cannot be shared, so each replica keeps its data directory in an emptyDir (move keys/ from the volume into Secrets first)" }}
{{- end }}
{{- end }}
{{- $managed := list "dataDir" "listen" "publicUrl" "logLevel" "tlsCertFile" "tlsKeyFile" "tlsCaFile" "database" "metricsTokenFile" "auditKeyFile" "secretsKeyFile" "auditRetentionDays" "auditWebhookUrl" "agentImage" "shutdownGraceSeconds" "shutdownDelaySeconds" "proxyProtocolFrom" "peerListen" "peerUrl" }}
{{- range $key, $_ := .Values.config }}
{{- if has $key $managed }}
{{- fail (printf "config.%s is set by this chart's own values (see README.md); set it there" $key) }}
{{- end }}
{{- end }}
{{- end }}
