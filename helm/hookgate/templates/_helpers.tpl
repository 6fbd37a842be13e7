{{/*
Named templates. Every template takes one context: a dict with
  root:   the top-level context ($ of the chart that includes it: Release, Capabilities, …)
  values: this chart's values (.Values here; .Values.hookgate in a chart that depends on this one)
so the same templates serve this chart's own Deployment and a team's chart that embeds the
sidecar. Names derive only from the release and the values (never from .Chart, which is the
including chart's), so both sides agree on the ConfigMap's and the Secret's names.

Public, for embedding (see docs/kubernetes.md):
  hookgate.sidecar.initContainers  the sidecar as an init container (nativeSidecar: true), else nothing
  hookgate.sidecar.containers      the sidecar as a plain container (nativeSidecar: false), else nothing
  hookgate.sidecar.container       the container itself (one list item), wherever you place it
  hookgate.sidecar.volumes         its volumes (list items): config, secrets, /tmp, data
  hookgate.podAnnotations          checksum annotations that roll the pods when the config changes
  hookgate.config                  the rendered hookgate.yaml
*/}}

{{- define "hookgate.name" -}}
{{- default "hookgate" .values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hookgate.fullname" -}}
{{- if .values.fullnameOverride -}}
{{- .values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "hookgate.name" . -}}
{{- if contains $name .root.Release.Name -}}
{{- .root.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .root.Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hookgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookgate.name" . }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "hookgate.labels" -}}
{{ include "hookgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | default "unknown" | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: hookgate
{{- end -}}

{{- define "hookgate.serviceAccountName" -}}
{{- if .values.serviceAccount.create -}}
{{- default (include "hookgate.fullname" .) .values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hookgate.configMapName" -}}
{{- printf "%s-config" (include "hookgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret mounted under /var/run/secrets/hookgate: yours, the chart's, or none (""). */}}
{{- define "hookgate.secretName" -}}
{{- $s := .values.hookgate.secrets -}}
{{- if and $s.existingSecret $s.values -}}
{{- fail "hookgate.secrets: set existingSecret or values, not both" -}}
{{- end -}}
{{- if $s.existingSecret -}}
{{- $s.existingSecret -}}
{{- else if $s.values -}}
{{- printf "%s-secrets" (include "hookgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* A duration of hookgate's config (500ms, 30s, 5m, 72h, 7d) in whole seconds, rounded up. */}}
{{- define "hookgate.durationSeconds" -}}
{{- $d := toString . -}}
{{- if regexMatch "^[0-9]+ms$" $d -}}{{ div (add (trimSuffix "ms" $d | int) 999) 1000 }}
{{- else if regexMatch "^[0-9]+s$" $d -}}{{ trimSuffix "s" $d | int }}
{{- else if regexMatch "^[0-9]+m$" $d -}}{{ mul (trimSuffix "m" $d | int) 60 }}
{{- else if regexMatch "^[0-9]+h$" $d -}}{{ mul (trimSuffix "h" $d | int) 3600 }}
{{- else if regexMatch "^[0-9]+d$" $d -}}{{ mul (trimSuffix "d" $d | int) 86400 }}
{{- else -}}{{ fail (printf "not a duration: %q (expected e.g. 500ms, 30s, 5m)" $d) }}
{{- end -}}
{{- end -}}

{{/* Enough time for the app's preStop and shutdown, then hookgate's drain (upstream.timeout). */}}
{{- define "hookgate.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .values.terminationGracePeriodSeconds -}}
{{- $upstream := (.values.hookgate.config | default dict).upstream | default dict -}}
{{- $drain := include "hookgate.durationSeconds" ($upstream.timeout | default "30s") | int -}}
{{- add (.values.app.preStop.sleepSeconds | int) (.values.app.stopSeconds | int) $drain 10 -}}
{{- else -}}
{{- .values.terminationGracePeriodSeconds | int -}}
{{- end -}}
{{- end -}}

{{/* Refuses a config that would put a credential into the ConfigMap. */}}
{{- define "hookgate.checkNoInlineSecrets" -}}
{{- $cfg := . -}}
{{- range $i, $route := ($cfg.routes | default list) -}}
{{- $lists := dict -}}
{{- if kindIs "slice" $route.secrets -}}
{{- $_ := set $lists "" $route.secrets -}}
{{- else if kindIs "map" $route.secrets -}}
{{- range $tenant, $refs := $route.secrets -}}{{- $_ := set $lists (printf ".%s" $tenant) $refs -}}{{- end -}}
{{- end -}}
{{- range $suffix, $refs := $lists -}}
{{- range $j, $ref := $refs -}}
{{- if not (regexMatch "^(env|file):." (toString $ref)) -}}
{{- fail (printf "hookgate.config.routes[%d].secrets%s[%d] is a literal secret, and the config is a ConfigMap: put it in hookgate.secrets.values (or your existingSecret) and reference it as file:/var/run/secrets/hookgate/<key>" $i $suffix $j) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $where, $url := dict "ledger.url" ((($cfg.ledger | default dict).url) | default "") "limits.store" ((($cfg.limits | default dict).store) | default "") -}}
{{- /* user:password@ in the authority, or libpq's password= parameter. env:/file: references pass: they hold the URL elsewhere. */ -}}
{{- if or (regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]*:[^/@]*@" (toString $url)) (regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^?]*\\?(.*&)?password=" (toString $url)) -}}
{{- $key := ternary "ledger-url" "limits-store" (eq $where "ledger.url") -}}
{{- $or := ternary " (or leave the password out of the URL and give PGPASSWORD through hookgate.secrets.env, or use client certificates)" "" (eq $where "ledger.url") -}}
{{- fail (printf "hookgate.config.%s carries a password, and the config is a ConfigMap: put the whole URL in the Secret (key %s in hookgate.secrets.values or your existingSecret) and write %s: file:/var/run/secrets/hookgate/%s%s" $where $key $where $key $or) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A connection URL read from the mounted Secret (ledger.url / limits.store: file:/var/run/secrets/hookgate/KEY)
needs that Secret, and the key in it when the chart makes it: caught here instead of a crash-looping pod.
*/}}
{{- define "hookgate.checkConnectionRefs" -}}
{{- $cfg := .values.hookgate.config | default dict -}}
{{- $s := .values.hookgate.secrets -}}
{{- range $where, $ref := dict "ledger.url" ((($cfg.ledger | default dict).url) | default "") "limits.store" ((($cfg.limits | default dict).store) | default "") -}}
{{- $ref = toString $ref -}}
{{- if hasPrefix "file:/var/run/secrets/hookgate/" $ref -}}
{{- $key := trimPrefix "file:/var/run/secrets/hookgate/" $ref -}}
{{- if not (or $s.existingSecret $s.values) -}}
{{- fail (printf "hookgate.config.%s reads %s, but no Secret is mounted there: set hookgate.secrets.existingSecret (with key %s) or hookgate.secrets.values.%s" $where $ref $key $key) -}}
{{- end -}}
{{- if and $s.values (not (hasKey $s.values $key)) -}}
{{- fail (printf "hookgate.config.%s reads %s, but hookgate.secrets.values has no key %s" $where $ref $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether ledger.url or limits.store is read from the mounted Secret (bound at start, like env vars). */}}
{{- define "hookgate.connectionFromSecret" -}}
{{- $cfg := .values.hookgate.config | default dict -}}
{{- range $ref := list ((($cfg.ledger | default dict).url) | default "") ((($cfg.limits | default dict).store) | default "") -}}
{{- if hasPrefix "file:/var/run/secrets/hookgate/" (toString $ref) -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* The gateway's YAML: the values' config plus what the pod layout decides. */}}
{{- define "hookgate.config" -}}
{{- $hg := .values.hookgate -}}
{{- $cfg := deepCopy ($hg.config | default dict) -}}
{{- range $key := list "listen" "admin" -}}
{{- if hasKey $cfg $key -}}
{{- fail (printf "hookgate.config.%s is set by the chart (0.0.0.0:<hookgate.port> and 0.0.0.0:<hookgate.adminPort>): remove it and set hookgate.port / hookgate.adminPort" $key) -}}
{{- end -}}
{{- end -}}
{{- include "hookgate.checkNoInlineSecrets" $cfg -}}
{{- include "hookgate.checkConnectionRefs" . -}}
{{- /* In a pod the Service and the kubelet's probes reach the pod IP, not loopback. */ -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" ($hg.port | int)) -}}
{{- $_ := set $cfg "admin" (printf "0.0.0.0:%d" ($hg.adminPort | int)) -}}
{{- $upstream := deepCopy ($cfg.upstream | default dict) -}}
{{- if not $upstream.url -}}
{{- $_ := set $upstream "url" (printf "http://127.0.0.1:%d" (.values.app.port | int)) -}}
{{- end -}}
{{- $_ := set $cfg "upstream" $upstream -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- define "hookgate.embeddedLedgerOnDisk" -}}
{{- $ledger := (.values.hookgate.config | default dict).ledger | default dict -}}
{{- if hasPrefix "embedded:" (toString ($ledger.url | default "")) -}}true{{- end -}}
{{- end -}}

{{/* The ledger is the embedded one (in memory by default, or embedded:PATH): one replica's own. */}}
{{- define "hookgate.embeddedLedger" -}}
{{- $url := toString ((((.values.hookgate.config | default dict).ledger | default dict).url) | default "embedded") -}}
{{- if or (eq $url "embedded") (hasPrefix "embedded:" $url) -}}true{{- end -}}
{{- end -}}

{{/*
The Deployment's replica count: replicaCount, or by default 1 with an embedded ledger and 2 with a
shared one. An embedded ledger dedupes within one replica only (a duplicate reaching another
replica would be forwarded again), so more than one replica, or an autoscaler, is refused.
*/}}
{{- define "hookgate.replicas" -}}
{{- $embedded := include "hookgate.embeddedLedger" . -}}
{{- $n := .values.replicaCount -}}
{{- if kindIs "invalid" $n -}}{{- $n = ternary 1 2 (eq $embedded "true") -}}{{- end -}}
{{- if and $embedded (or .values.autoscaling.enabled (gt ($n | int) 1)) -}}
{{- $url := toString ((((.values.hookgate.config | default dict).ledger | default dict).url) | default "embedded") -}}
{{- if hasPrefix "embedded:" $url -}}
{{- fail "hookgate.config.ledger.url embedded:PATH is for one replica: set replicaCount=1 (and autoscaling.enabled=false), or use postgres://… (CockroachDB or PostgreSQL) shared by all replicas" -}}
{{- else -}}
{{- fail "hookgate.config.ledger.url is embedded (the default: in memory), which dedupes within one replica only: run one replica (replicaCount=1, autoscaling.enabled=false), or use postgres://… (CockroachDB or PostgreSQL) shared by all replicas" -}}
{{- end -}}
{{- end -}}
{{- $n | int -}}
{{- end -}}

{{/*
The salt of the Secret checksum on the pod template: the operator's, else the one kept in the
chart's Secret (lookup: empty when rendering without a cluster), else a random one. Computed once
per render and remembered in the values, so the Secret and every pod template agree.
*/}}
{{- define "hookgate.checksumSalt" -}}
{{- $s := .values.hookgate.secrets -}}
{{- if not (hasKey $s "_salt") -}}
{{- $salt := $s.checksumSalt | default "" -}}
{{- if not $salt -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (include "hookgate.secretName" .) -}}
{{- $salt = (index ($existing.data | default dict) "checksum-salt" | default "" | b64dec) -}}
{{- end -}}
{{- if not $salt -}}{{- $salt = randAlphaNum 43 -}}{{- end -}}
{{- $_ := set $s "_salt" $salt -}}
{{- end -}}
{{- index $s "_salt" -}}
{{- end -}}

{{- define "hookgate.podAnnotations" -}}
checksum/hookgate-config: {{ include "hookgate.config" . | sha256sum }}
{{- $s := .values.hookgate.secrets -}}
{{- if and $s.values (or $s.env (include "hookgate.connectionFromSecret" .)) }}
{{- /* Env vars and connection URLs are read at start only (secret files hot-reload): roll the pods when they change. */}}
{{- /* Salted: a plain checksum of the values would let anyone who can read pods test guesses. */}}
checksum/hookgate-secret-env: {{ printf "%s%s" (include "hookgate.checksumSalt" .) (toJson $s.values) | sha256sum }}
{{- end }}
{{- end -}}

{{- define "hookgate.probe" -}}
httpGet:
  path: {{ .path }}
  port: admin
{{ toYaml .timing }}
{{- end -}}

{{- define "hookgate.sidecar.container" -}}
{{- $hg := .values.hookgate -}}
{{- $root := .root -}}
{{- $secretName := include "hookgate.secretName" . -}}
- name: hookgate
  image: {{ $hg.image | quote }}
  imagePullPolicy: {{ $hg.imagePullPolicy }}
  {{- if $hg.nativeSidecar }}
  {{- if semverCompare "<1.29.0-0" $root.Capabilities.KubeVersion.Version }}
  {{- fail (printf "hookgate.nativeSidecar needs Kubernetes >= 1.29 (this cluster: %s): set hookgate.nativeSidecar=false" $root.Capabilities.KubeVersion.Version) }}
  {{- end }}
  # A native sidecar: started before the app and stopped after it.
  restartPolicy: Always
  {{- end }}
  args: ["run", "--config", "/etc/hookgate/hookgate.yaml"]
  ports:
    - name: http
      containerPort: {{ $hg.port | int }}
      protocol: TCP
    - name: admin
      containerPort: {{ $hg.adminPort | int }}
      protocol: TCP
  {{- if or $hg.env $hg.secrets.env }}
  env:
    {{- range $name, $key := $hg.secrets.env }}
    {{- if not $secretName }}
    {{- fail "hookgate.secrets.env needs hookgate.secrets.existingSecret or hookgate.secrets.values" }}
    {{- end }}
    - name: {{ $name }}
      valueFrom:
        secretKeyRef:
          name: {{ $secretName }}
          key: {{ $key }}
    {{- end }}
    {{- with $hg.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  {{- with $hg.envFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  startupProbe:
    {{- include "hookgate.probe" (dict "path" "/healthz" "timing" $hg.probes.startup) | nindent 4 }}
  readinessProbe:
    {{- include "hookgate.probe" (dict "path" "/readyz" "timing" $hg.probes.readiness) | nindent 4 }}
  livenessProbe:
    {{- include "hookgate.probe" (dict "path" "/healthz" "timing" $hg.probes.liveness) | nindent 4 }}
  {{- if and (not $hg.nativeSidecar) $hg.preStopSleepSeconds }}
  lifecycle:
    preStop:
      exec:
        # node itself sleeps: the image needs no shell or coreutils.
        command: ["node", "-e", "setTimeout(() => {}, {{ mul ($hg.preStopSleepSeconds | int) 1000 }})"]
  {{- end }}
  resources:
    {{- toYaml $hg.resources | nindent 4 }}
  securityContext:
    {{- toYaml $hg.securityContext | nindent 4 }}
  volumeMounts:
    # A directory mount (not subPath), so a changed ConfigMap reaches the running gateway.
    - name: hookgate-config
      mountPath: /etc/hookgate
      readOnly: true
    {{- if $secretName }}
    - name: hookgate-secrets
      mountPath: /var/run/secrets/hookgate
      readOnly: true
    {{- end }}
    - name: hookgate-tmp
      mountPath: /tmp
    {{- if include "hookgate.embeddedLedgerOnDisk" . }}
    - name: hookgate-data
      mountPath: /var/lib/hookgate
    {{- end }}
    {{- with $hg.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{- define "hookgate.sidecar.initContainers" -}}
{{- if .values.hookgate.nativeSidecar -}}
{{- include "hookgate.sidecar.container" . -}}
{{- end -}}
{{- end -}}

{{- define "hookgate.sidecar.containers" -}}
{{- if not .values.hookgate.nativeSidecar -}}
{{- include "hookgate.sidecar.container" . -}}
{{- end -}}
{{- end -}}

{{- define "hookgate.sidecar.volumes" -}}
{{- $secretName := include "hookgate.secretName" . -}}
- name: hookgate-config
  configMap:
    name: {{ include "hookgate.configMapName" . }}
{{- if $secretName }}
- name: hookgate-secrets
  secret:
    secretName: {{ $secretName }}
    # 0444: only the hookgate container mounts this volume, and it runs as a uid of its own.
    defaultMode: 292
{{- end }}
- name: hookgate-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if include "hookgate.embeddedLedgerOnDisk" . }}
- name: hookgate-data
  {{- if .values.hookgate.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "hookgate.fullname" . }}-data
  {{- else }}
  {{- toYaml .values.hookgate.dataVolume | nindent 2 }}
  {{- end }}
{{- end }}
{{- end -}}
