"""Every platform app, one module each (see `..app` for the shape). Order here only breaks ties."""

from __future__ import annotations

from ..app import App
from . import (apisix, cert_manager, falco, gateway_api, graylog, keda, keycloak, linkerd, linkerd_viz, metrics_server, openldap,
               rook_ceph, velero)
from . import cloudnative_pg, eck_operator, elasticsearch, kafka, mongodb, mongodb_operator, postgresql, strimzi

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
    falco.APP,
    openldap.APP,
    keycloak.APP,
    graylog.APP,
    cloudnative_pg.APP,
    eck_operator.APP,
    strimzi.APP,
    mongodb_operator.APP,
    postgresql.APP,
    kafka.APP,
    mongodb.APP,
    elasticsearch.PROCESSING_APP,
    elasticsearch.SECURITY_APP,
)
