"""Hypothetical apps for the framework tests, added through a registry tuple (`CORE_APPS + SAMPLES`): adding an app
touches no file of the program but its module and `apps/__init__.py`.

- `SAMPLE`: a new app as an author would write it — a chart, values, a webhook, a generated secret, a volume,
  a bucket claim served by the storage layer, a claim served by another app, and a backup;
- `QUEUE`: an app that plays the role "queue" and serves `Queue` claims (the generic claim mechanism);
- `MONITORING`: an app that plays "monitoring" (ServiceMonitors on by default, scrape flows, ordering);
- `THANOS`, `LOKI`, `SEARCH`: bucket claims in the other credential formats;
- `QUIET`: an app that opts out of monitoring and of API-server access.

Tests share one run with all of them: `platform_run("prod", apps=CORE_APPS + SAMPLES)` (`extended_run()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from components.platform.app import (App, AppContext, Backup, Bucket, Chart, ChartRelease, Claim, GeneratedSecret,
                                     Webhook)
from components.platform.apps import APPS
from components.platform.placement import Resources

# The program's core apps, without the monitoring and logging apps the samples stand in for (the
# "monitoring" player and what needs it). Tests add samples to this tuple.
CORE_APPS: tuple[App, ...] = tuple(a for a in APPS if a.namespace not in ("monitoring", "monitoring-node", "logging"))


@dataclass(frozen=True, kw_only=True)
class Queue(Claim):
    role: ClassVar[str] = "queue"
    name: str


def serve_queues(ctx: AppContext) -> None:
    for consumer, claim in ctx.claims(Queue):
        ns = claim.namespace or consumer.namespace
        ctx.serve(consumer, claim, ctx.secret(claim.secret, ("password",), namespace=ns))


QUEUE = App(
    name="sample-queue", namespace="infra", roles=("queue",),
    releases=(ChartRelease(Chart("sample-queue", "https://charts.example.org", "0.1.0"), lambda ctx: {}),),
    objects=serve_queues,
)

MONITORING = App(
    name="sample-monitoring", namespace="monitoring", roles=("monitoring",),
    releases=(ChartRelease(Chart("sample-monitoring", "https://charts.example.org", "0.1.0"), lambda ctx: {},
                           crds=("monitoring.coreos.com",)),),
    endpoints={"prometheus": "http://sample-prometheus.monitoring.svc.cluster.local:9090"},
)


def sample_values(ctx: AppContext) -> dict:
    return {
        "replicas": ctx.replicas(2),
        "affinity": ctx.affinity(),
        "resources": ctx.resources("server", Resources("50m", "64Mi", memory_limit="128Mi")).render(),
        "persistence": {"size": f"{ctx.storage_gb(20)}Gi"},
        "existingSecret": "sample-admin",
        "s3": {"secret": "sample-s3"},
        "queue": {"secret": "sample-queue"},
        "serviceMonitor": {"enabled": ctx.service_monitors},
    }


SAMPLE = App(
    name="sample", namespace="processing",
    releases=(ChartRelease(Chart("sample", "https://charts.example.org", "1.2.3"), sample_values),),
    secrets=(GeneratedSecret("sample-admin", ("password",)),),
    webhooks=(Webhook("webhook", {"app.kubernetes.io/name": "sample"}, 8443),),
    claims=(Bucket(suffix="backups", secret="sample-s3", format="aws-env"), Queue(name="jobs", secret="sample-queue")),
    stateful=True,
    backups=(Backup(selector={"app.kubernetes.io/name": "sample"}),),
)

THANOS = App(name="sample-thanos", namespace="monitoring",
             claims=(Bucket(suffix="thanos", secret="thanos-objstore", format="thanos-objstore"),))
LOKI = App(name="sample-loki", namespace="logging",
           claims=(Bucket(suffix="loki", secret="loki-s3-credentials", format="aws-env"),))
SEARCH = App(name="sample-search", namespace="database",
             claims=(Bucket(suffix="es-processing", secret="sample-search-s3-keystore", format="eck-keystore"),))

QUIET = App(
    name="sample-quiet", namespace="security", monitoring=False, apiserver=False,
    releases=(ChartRelease(Chart("sample-quiet", "https://charts.example.org", "0.1.0"),
                           lambda ctx: {"serviceMonitor": {"enabled": ctx.service_monitors}}),),
)

SAMPLES: tuple[App, ...] = (SAMPLE, QUEUE, MONITORING, THANOS, LOKI, SEARCH, QUIET)


def extended_run():
    """prod's storage and platform layers with every sample app (one cached run for the suite)."""
    from tests.components.platform.helpers import platform_run

    return platform_run("prod", apps=CORE_APPS + SAMPLES)
