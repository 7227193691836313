"""Small charts the tests write themselves (never a third-party chart): each exercises one rendered check.

- `web`: a Deployment whose security contexts come from values (defaults `{}` break `restricted`);
- `widgets`: a CRD in `crds/` and a template rendering a Widget from values (wrong types, unknown fields);
- `parent`: a subchart `child` under the alias `kid`;
- `broken`: a template that fails to render unless `name` is set.
"""

from __future__ import annotations

from pathlib import Path

import yaml

VERSION = "0.1.0"

CHARTS: dict[str, dict[str, object]] = {
    "web": {
        "values.yaml": {"replicaCount": 1, "image": {"repository": "ghcr.io/coprs/web", "tag": "1.0.0"},
                        "podSecurityContext": {}, "securityContext": {}, "resources": {}},
        "templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels: {app: web}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext: {{ toJson .Values.podSecurityContext }}
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          securityContext: {{ toJson .Values.securityContext }}
          resources: {{ toJson .Values.resources }}
""",
    },
    "widgets": {
        "values.yaml": {"size": 3, "color": "blue", "shape": ""},
        "crds/widgets.yaml": {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.coprs.test"},
            "spec": {"group": "example.coprs.test", "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object",
                         "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
                             "size": {"type": "integer", "minimum": 1},
                             "color": {"type": "string", "enum": ["blue", "green"]},
                             "labels": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}}]}},
        "templates/widget.yaml": """\
apiVersion: example.coprs.test/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}
spec:
  size: {{ toJson .Values.size }}
  color: {{ .Values.color }}
  {{- with .Values.shape }}
  shape: {{ . }}
  {{- end }}
""",
    },
    "parent": {
        "Chart.yaml+": {"dependencies": [{"name": "child", "version": VERSION, "alias": "kid"}]},
        "values.yaml": {"kid": {"replicas": 1}},
        "templates/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-parent
data:
  greeting: hello
""",
        "charts/child/Chart.yaml": {"apiVersion": "v2", "name": "child", "version": VERSION},
        "charts/child/values.yaml": {"replicas": 2, "port": 8080},
        "charts/child/templates/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-child
data:
  replicas: {{ .Values.replicas | quote }}
  port: {{ .Values.port | quote }}
""",
    },
    "broken": {
        "values.yaml": {"name": ""},
        "templates/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ required "set .Values.name" .Values.name }}
""",
    },
}


def write_chart(dest: Path, name: str, version: str = VERSION) -> Path:
    """Write chart `name` as the folder `dest/<name>-<version>/`; returns the folder."""
    folder = dest / f"{name}-{version}"
    meta = {"apiVersion": "v2", "name": name, "version": version, "appVersion": "1.0.0",
            **CHARTS[name].get("Chart.yaml+", {})}  # type: ignore[dict-item]
    files = {"Chart.yaml": meta, **{k: v for k, v in CHARTS[name].items() if k != "Chart.yaml+"}}
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return folder


def write_charts(dest: Path) -> dict[str, Path]:
    dest.mkdir(parents=True, exist_ok=True)
    return {name: write_chart(dest, name) for name in CHARTS}
