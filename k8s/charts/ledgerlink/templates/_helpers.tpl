{{/*
Names and labels.
*/}}
{{- define "ledgerlink.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ledgerlink.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ledgerlink.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "ledgerlink.labels" -}}
helm.sh/chart: {{ include "ledgerlink.chart" . }}
{{ include "ledgerlink.selectorLabels" . }}
app.kubernetes.io/part-of: ledgerlink
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels that select every pod of this release. */}}
{{- define "ledgerlink.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ledgerlink.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component; call with (dict "root" $ "component" "scoring"). */}}
{{- define "ledgerlink.componentLabels" -}}
{{ include "ledgerlink.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ledgerlink.componentSelectorLabels" -}}
{{ include "ledgerlink.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ledgerlink.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ledgerlink.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ledgerlink.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The five services: values key → component name, binary, config table, and whether it
owns a database. Parsed with fromYaml where needed.
*/}}
{{- define "ledgerlink.components" -}}
extractor:
  component: extractor
  binary: ledgerlink-extractor
  stateful: false
scoring:
  component: scoring
  binary: ledgerlink-scoring
  stateful: true
reminder:
  component: reminder
  binary: ledgerlink-reminder
  stateful: true
klaviyoGateway:
  component: klaviyo-gateway
  binary: ledgerlink-klaviyo-gateway
  stateful: true
coordinator:
  component: coordinator
  binary: ledgerlink-coordinator
  stateful: true
{{- end -}}

{{/* http or https, by tls.enabled. */}}
{{- define "ledgerlink.scheme" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end -}}
{{- end -}}

{{/* The URL of a service inside the cluster; (dict "root" $ "key" "scoring"). */}}
{{- define "ledgerlink.serviceUrl" -}}
{{- $components := include "ledgerlink.components" .root | fromYaml -}}
{{- $c := get $components .key -}}
{{- $svc := get .root.Values.services .key -}}
{{- printf "%s://%s-%s:%d" (include "ledgerlink.scheme" .root) (include "ledgerlink.fullname" .root) $c.component (int $svc.port) -}}
{{- end -}}

{{/*
Paths inside the containers.
*/}}
{{- define "ledgerlink.configDir" -}}/etc/ledgerlink{{- end -}}
{{- define "ledgerlink.dataDir" -}}/var/lib/ledgerlink{{- end -}}
{{- define "ledgerlink.secretsDir" -}}/var/run/secrets/ledgerlink{{- end -}}

{{/*
The configuration file, as a dict: the user's tables plus what the chart owns.
*/}}
{{- define "ledgerlink.configDict" -}}
{{- $cfg := deepCopy (default dict .Values.config) -}}
{{- range $table := list "extractor" "scoring" "reminder" "klaviyo-gateway" "coordinator" -}}
{{- if not (hasKey $cfg $table) -}}{{- $_ := set $cfg $table dict -}}{{- end -}}
{{- if not (get $cfg $table) -}}{{- $_ := set $cfg $table dict -}}{{- end -}}
{{- end -}}
{{- $coordinator := get $cfg "coordinator" -}}
{{- $_ := set $coordinator "extractor_url" (include "ledgerlink.serviceUrl" (dict "root" . "key" "extractor")) -}}
{{- $_ := set $coordinator "scoring_url" (include "ledgerlink.serviceUrl" (dict "root" . "key" "scoring")) -}}
{{- $_ := set $coordinator "reminder_url" (include "ledgerlink.serviceUrl" (dict "root" . "key" "reminder")) -}}
{{- $_ := set $coordinator "klaviyo_gateway_url" (include "ledgerlink.serviceUrl" (dict "root" . "key" "klaviyoGateway")) -}}
{{- if .Values.webhook.enabled -}}
{{- $_ := set $coordinator "webhook_listen" (printf "0.0.0.0:%d" (int .Values.webhook.port)) -}}
{{- end -}}
{{- if not (hasKey $coordinator "time_zone") -}}{{- $_ := set $coordinator "time_zone" .Values.timeZone -}}{{- end -}}
{{- $reminder := get $cfg "reminder" -}}
{{- if not (hasKey $reminder "time_zone") -}}{{- $_ := set $reminder "time_zone" .Values.timeZone -}}{{- end -}}
{{- $scoring := get $cfg "scoring" -}}
{{- $_ := set $scoring "rules_file" (printf "%s/%s" (include "ledgerlink.configDir" .) (include "ledgerlink.rulesFileName" .)) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- define "ledgerlink.rulesFileName" -}}
{{- if .Values.rules.content -}}rules.{{ .Values.rules.format }}{{- else -}}rules.toml{{- end -}}
{{- end -}}

{{- define "ledgerlink.rulesContent" -}}
{{- if .Values.rules.content -}}{{ .Values.rules.content }}{{- else -}}{{ .Files.Get "files/rules.toml" }}{{- end -}}
{{- end -}}

{{/*
TOML rendering. Helm reads every number in values as a float, and toToml would write
365 as 365.0, which the services refuse for integer settings; whole numbers are
written as integers here. Nested tables and arrays are written inline.
*/}}
{{- define "ledgerlink.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{ . }}{{- else -}}{{ toJson . }}{{- end -}}
{{- end -}}

{{- define "ledgerlink.toml.value" -}}
{{- $k := kindOf . -}}
{{- if eq $k "string" -}}
{{- toJson . -}}
{{- else if eq $k "bool" -}}
{{- . -}}
{{- else if or (eq $k "float64") (eq $k "float32") -}}
{{- if eq (float64 (int64 .)) (float64 .) -}}{{- int64 . -}}{{- else -}}{{- . -}}{{- end -}}
{{- else if or (hasPrefix "int" $k) (hasPrefix "uint" $k) -}}
{{- . -}}
{{- else if eq $k "slice" -}}
[{{- range $i, $e := . -}}{{- if $i }}, {{ end -}}{{- include "ledgerlink.toml.value" $e -}}{{- end -}}]
{{- else if eq $k "map" -}}
{{- $m := . -}}
{ {{- range $i, $key := keys $m | sortAlpha -}}{{- if $i }},{{ end }} {{ include "ledgerlink.toml.key" $key }} = {{ include "ledgerlink.toml.value" (get $m $key) -}}{{- end }} }
{{- else -}}
{{- fail (printf "config: a value of kind %s (null?) cannot be written as TOML" $k) -}}
{{- end -}}
{{- end -}}

{{/* True (non-empty) when v is a non-empty list of maps: written as [[table.key]]. */}}
{{- define "ledgerlink.toml.isTableArray" -}}
{{- if and (kindIs "slice" .) (gt (len .) 0) -}}
{{- $all := true -}}
{{- range . -}}{{- if not (kindIs "map" .) -}}{{- $all = false -}}{{- end -}}{{- end -}}
{{- if $all -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* One table's body at `path` (keys, then sub-tables, then arrays of tables). */}}
{{- define "ledgerlink.toml.table" -}}
{{- $path := .path -}}
{{- $t := .table -}}
{{- range $key := keys $t | sortAlpha }}
{{- $v := get $t $key }}
{{- if not (or (kindIs "map" $v) (include "ledgerlink.toml.isTableArray" $v)) }}
{{ include "ledgerlink.toml.key" $key }} = {{ include "ledgerlink.toml.value" $v }}
{{- end }}
{{- end }}
{{- range $key := keys $t | sortAlpha }}
{{- $v := get $t $key }}
{{- $sub := printf "%s.%s" $path (include "ledgerlink.toml.key" $key) }}
{{- if kindIs "map" $v }}

[{{ $sub }}]
{{- include "ledgerlink.toml.table" (dict "path" $sub "table" $v) }}
{{- else if include "ledgerlink.toml.isTableArray" $v }}
{{- range $v }}

[[{{ $sub }}]]
{{- include "ledgerlink.toml.table" (dict "path" $sub "table" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The whole file. */}}
{{- define "ledgerlink.configToml" -}}
# Rendered by the ledgerlink Helm chart from .Values.config (docs/configuration.md).
{{- $cfg := include "ledgerlink.configDict" . | fromYaml }}
{{- range $key := keys $cfg | sortAlpha }}
{{- $v := get $cfg $key }}
{{- if not (kindIs "map" $v) }}
{{ include "ledgerlink.toml.key" $key }} = {{ include "ledgerlink.toml.value" $v }}
{{- end }}
{{- end }}
{{- range $key := keys $cfg | sortAlpha }}
{{- $v := get $cfg $key }}
{{- if kindIs "map" $v }}

[{{ include "ledgerlink.toml.key" $key }}]
{{- include "ledgerlink.toml.table" (dict "path" (include "ledgerlink.toml.key" $key) "table" $v) }}
{{- end }}
{{- end }}
{{ end -}}

{{/* The ConfigMap's data (shared by the release's ConfigMap and the migration hook's). */}}
{{- define "ledgerlink.configData" -}}
config.toml: |
{{ include "ledgerlink.configToml" . | indent 2 }}
{{ include "ledgerlink.rulesFileName" . }}: |
{{ include "ledgerlink.rulesContent" . | indent 2 }}
{{- end -}}

{{/*
Checks that values.schema.json cannot express.
*/}}
{{- define "ledgerlink.validate" -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls.enabled needs tls.existingSecret (a Secret with the certificate, key and CA)" -}}
{{- end -}}
{{- if and .Values.webhook.enabled .Values.networkPolicy.enabled (not .Values.webhook.networkPolicy.from) -}}
{{- fail "webhook.enabled with networkPolicy.enabled needs webhook.networkPolicy.from (who may reach the webhook, e.g. the ingress controller's namespace)" -}}
{{- end -}}
{{- if and .Values.webhook.ingress.enabled (not .Values.webhook.enabled) -}}
{{- fail "webhook.ingress.enabled needs webhook.enabled" -}}
{{- end -}}
{{- if and .Values.webhook.ingress.enabled (not .Values.webhook.ingress.host) -}}
{{- fail "webhook.ingress.enabled needs webhook.ingress.host" -}}
{{- end -}}
{{- $ports := dict -}}
{{- range $key, $svc := .Values.services -}}
{{- $p := toString (int $svc.port) -}}
{{- if hasKey $ports $p -}}{{- fail (printf "services.%s.port %s is already used by services.%s" $key $p (get $ports $p)) -}}{{- end -}}
{{- $_ := set $ports $p $key -}}
{{- end -}}
{{- if hasKey $ports (toString (int .Values.metrics.port)) -}}{{- fail "metrics.port collides with a service's gRPC port" -}}{{- end -}}
{{- if and .Values.webhook.enabled (or (hasKey $ports (toString (int .Values.webhook.port))) (eq (int .Values.webhook.port) (int .Values.metrics.port))) -}}
{{- fail "webhook.port collides with another port" -}}
{{- end -}}
{{- end -}}

{{/*
Volumes and mounts every service pod and migration job shares: /tmp, the data dir,
the configuration, the auth token.
*/}}
{{- define "ledgerlink.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
- name: data
  emptyDir:
    sizeLimit: 1Gi
- name: config
  configMap:
    name: {{ .configMap }}
- name: auth
  secret:
    secretName: {{ .root.Values.auth.existingSecret }}
    defaultMode: 288 # 0440: owner and group (fsGroup) read
    items:
      - key: {{ .root.Values.auth.key }}
        path: token
{{- end -}}

{{- define "ledgerlink.commonMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ include "ledgerlink.dataDir" . }}
- name: config
  mountPath: {{ include "ledgerlink.configDir" . }}
  readOnly: true
- name: auth
  mountPath: {{ include "ledgerlink.secretsDir" . }}/auth
  readOnly: true
{{- end -}}

{{/* Environment every service and migration job shares; (dict "root" $ "key" "scoring"). */}}
{{- define "ledgerlink.commonEnv" -}}
{{- $components := include "ledgerlink.components" .root | fromYaml -}}
{{- $c := get $components .key -}}
{{- $svc := get .root.Values.services .key -}}
- name: LEDGERLINK_CONFIG
  value: {{ include "ledgerlink.configDir" .root }}/config.toml
- name: LEDGERLINK_DATA_DIR
  value: {{ include "ledgerlink.dataDir" .root }}
- name: LEDGERLINK_AUTH_TOKEN_FILE
  value: {{ include "ledgerlink.secretsDir" .root }}/auth/token
{{- if $c.stateful }}
- name: LEDGERLINK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.database.existingSecret }}
      key: {{ get .root.Values.database.keys .key }}
{{- end }}
- name: RUST_LOG
  value: {{ default .root.Values.logLevel $svc.logLevel | quote }}
{{- end -}}
