"""Every platform app, one module each (see `..app` for the shape). Order here only breaks ties."""

from __future__ import annotations

from ..app import App
from . import (apisix, blackbox_exporter, cert_manager, cloudnative_pg, eck_operator, elasticsearch, falco, fluent_bit,
               fluentd, gateway_api, grafana, graylog, kafka, keda, keycloak, kube_prometheus_stack, linkerd, linkerd_viz, loki,
               metrics_server, mongodb, mongodb_operator, openldap, openstack_exporter, postgresql, rook_ceph, scdf, strimzi,
               thanos, velero)

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
    cloudnative_pg.APP,
    eck_operator.APP,
    strimzi.APP,
    mongodb_operator.APP,
    postgresql.APP,
    kafka.APP,
    mongodb.APP,
    elasticsearch.PROCESSING_APP,
    elasticsearch.SECURITY_APP,
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
