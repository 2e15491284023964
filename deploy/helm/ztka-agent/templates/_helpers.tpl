{{/*
The agent's objects keep the bootstrap manifest's names: `ztka-agent` for the ServiceAccount, Role,
Secret and Deployment in the release namespace. Usernames that would map to a name starting with `ztka`
never become a person's service account, so these names cannot collide with one.
*/}}
{{- define "ztka-agent.name" -}}ztka-agent{{- end }}

{{/*
Cluster-scoped objects (the agent's ClusterRole and ClusterRoleBinding) are named `ztka-agent` when the
agent runs in ztka-system, as the bootstrap manifest names them, and `ztka-agent-<namespace>` elsewhere.
*/}}
{{- define "ztka-agent.clusterName" -}}
{{- if eq .Release.Namespace "ztka-system" -}}ztka-agent{{- else -}}{{ printf "ztka-agent-%s" .Release.Namespace | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end }}

{{/* The Secret with the controller URL, CA and bootstrap token, where the agent also keeps its credential. */}}
{{- define "ztka-agent.secretName" -}}
{{- .Values.existingSecret | default (include "ztka-agent.name" .) -}}
{{- end }}

{{- define "ztka-agent.selectorLabels" -}}
app.kubernetes.io/name: ztka-agent
app.kubernetes.io/part-of: ztka
{{- end }}

{{- define "ztka-agent.labels" -}}
{{ include "ztka-agent.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "ztka-agent.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
