"""Inside every Helm release: the pinned chart rendered with the real Helm engine (helm-python-sdk, Helm v4's
Go SDK), and the checks on what it renders.

- `charts`: where a chart comes from: a directory of archives or chart folders (`CHARTS=`, air-gapped runners,
  tests), else the chart cache (`~/.cache/coprs/charts`, `COPRS_CHART_CACHE`) filled once per chart version
  from its https repository or OCI registry, with the archive's digest recorded beside it;
- `render`: a release's inputs (chart, version, repository, name, namespace, values) → rendered objects with
  their template paths, memoized per process (every rule of the pack asks for the same render);
- `checks`: values keys and `values.schema.json`, built-in objects against the Kubernetes version's strict
  schemas (kubernetes-validate), custom resources against their CRD's openAPIV3Schema.

The rules built on these live in `..rendered` (HELM-18..HELM-22) and `..kubernetes.common` (every K-* resource
rule also runs on the objects a release renders). This package is part of the policy pack: it imports nothing
from `offline/`.
"""
