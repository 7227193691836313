"""Every platform app, one module each (see `..app` for the shape). Order here only breaks ties."""

from __future__ import annotations

from ..app import App
from . import apisix, cert_manager, gateway_api, keda, linkerd, linkerd_viz, metrics_server, rook_ceph, velero
from . import blackbox_exporter, fluent_bit, fluentd, grafana, kube_prometheus_stack, loki, openstack_exporter, thanos

APPS: tuple[App, ...] = (
    gateway_api.APP,
    cert_manager.APP,
    linkerd.APP,
    linkerd_viz.APP,
    apisix.APP,
    rook_ceph.APP,
    metrics_server.APP,
    keda.APP,
    velero.APP,
    kube_prometheus_stack.CRDS_APP,
    grafana.APP,
    kube_prometheus_stack.APP,
    thanos.APP,
    loki.APP,
    fluent_bit.APP,
    blackbox_exporter.APP,
    fluentd.APP,
    openstack_exporter.APP,
)
