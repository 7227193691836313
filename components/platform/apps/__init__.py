"""Every platform app, one module each (see `..app` for the shape). Order here only breaks ties."""

from __future__ import annotations

from ..app import App
from . import (apisix, blackbox_exporter, cert_manager, falco, fluent_bit, fluentd, gateway_api, grafana, graylog, keda,
               keycloak, kube_prometheus_stack, linkerd, linkerd_viz, loki, metrics_server, openldap, openstack_exporter,
               rook_ceph, scdf, thanos, velero)

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
    falco.APP,
    openldap.APP,
    keycloak.APP,
    graylog.APP,
    scdf.APP,
)
