{{/* The release's object name: the release name, or release-chart. */}}
{{- define "dubbomesh.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dubbomesh.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dubbomesh.labels" -}}
{{ include "dubbomesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "dubbomesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dubbomesh.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dubbomesh.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/*
The xDS ports as a JSON list: shard 0 is xds.port, shard i (i ≥ 1) is
istio.shardPorts[i-1] or xds.port + i — the rule of istio.Config.ShardAddresses.
Without the Istio output there is one port.
*/}}
{{- define "dubbomesh.xdsPorts" -}}
{{- $ports := list (int .Values.xds.port) -}}
{{- if and .Values.istio.enabled (gt (int .Values.istio.shards) 1) -}}
{{- if and .Values.istio.shardPorts (ne (len .Values.istio.shardPorts) (sub (int .Values.istio.shards) 1)) -}}
{{- fail (printf "istio.shardPorts has %d entries; istio.shards=%d needs %d (one per shard after the first)" (len .Values.istio.shardPorts) (int .Values.istio.shards) (sub (int .Values.istio.shards) 1)) -}}
{{- end -}}
{{- range $i := untilStep 1 (int .Values.istio.shards) 1 -}}
{{- if $.Values.istio.shardPorts -}}
{{- $ports = append $ports (int (index $.Values.istio.shardPorts (sub $i 1))) -}}
{{- else -}}
{{- $ports = append $ports (add (int $.Values.xds.port) $i) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $ports -}}
{{- end -}}

{{/* Where the pod mounts the registries' Secrets: one directory per registry and Secret. */}}
{{- define "dubbomesh.secretDir" -}}/etc/dubbomesh/secrets{{- end -}}

{{/* The registry URLs the config names: each with passwordFile= / secretKeyFile= for its Secrets. */}}
{{- define "dubbomesh.registryURLs" -}}
{{- $urls := list -}}
{{- range $i, $r := .Values.registries -}}
{{- $u := $r.url -}}
{{- if $r.passwordSecret -}}
{{- $u = printf "%s%spasswordFile=%s/registry-%d-password/%s" $u (ternary "&" "?" (contains "?" $u)) (include "dubbomesh.secretDir" $) $i $r.passwordSecret.key -}}
{{- end -}}
{{- if $r.secretKeySecret -}}
{{- $u = printf "%s%ssecretKeyFile=%s/registry-%d-secretkey/%s" $u (ternary "&" "?" (contains "?" $u)) (include "dubbomesh.secretDir" $) $i $r.secretKeySecret.key -}}
{{- end -}}
{{- $urls = append $urls $u -}}
{{- end -}}
{{- toJson $urls -}}
{{- end -}}

{{/* The configuration file, as a dict. */}}
{{- define "dubbomesh.config" -}}
{{- $xds := dict "address" (printf "0.0.0.0:%d" (int .Values.xds.port)) -}}
{{- if .Values.xds.tls.secretName -}}
{{- $tls := dict "cert" "/etc/dubbomesh/xds-tls/tls.crt" "key" "/etc/dubbomesh/xds-tls/tls.key" -}}
{{- if .Values.xds.tls.clientCAKey -}}
{{- $_ := set $tls "clientCA" (printf "/etc/dubbomesh/xds-tls/%s" .Values.xds.tls.clientCAKey) -}}
{{- end -}}
{{- $_ := set $xds "tls" $tls -}}
{{- end -}}
{{- $admin := dict "address" (printf "0.0.0.0:%d" (int .Values.admin.port)) -}}
{{- if .Values.admin.tokenSecret.name -}}
{{- $_ := set $admin "tokenFile" (printf "/etc/dubbomesh/admin/%s" .Values.admin.tokenSecret.key) -}}
{{- end -}}
{{- $cfg := dict "registries" (include "dubbomesh.registryURLs" . | fromJsonArray) "xds" $xds "admin" $admin "log" (dict "level" .Values.log.level "format" .Values.log.format) -}}
{{- if .Values.istio.enabled -}}
{{- $istio := dict "enabled" true "namespace" .Values.istio.namespace -}}
{{- if gt (int .Values.istio.shards) 1 -}}
{{- $_ := set $istio "shards" (int .Values.istio.shards) -}}
{{- if .Values.istio.shardPorts -}}
{{- $_ := set $istio "shardPorts" .Values.istio.shardPorts -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "istio" $istio -}}
{{- end -}}
{{- toYaml (mustMergeOverwrite $cfg (deepCopy .Values.config)) -}}
{{- end -}}
