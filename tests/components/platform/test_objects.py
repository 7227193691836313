"""Every non-Helm Kubernetes object validates strictly against the cluster's Kubernetes schemas.

kubernetes-validate has no schema for custom resources: it raises SchemaNotFoundError for them. The
tests assert that it does (so a core object can never be skipped by mistake) and check the platform's
custom resources against the required fields of their CRDs, read from the pinned charts.
"""

from __future__ import annotations

from functools import lru_cache

import kubernetes_validate
import pytest
from kubernetes_validate import utils
from kubernetes_validate.utils import SchemaNotFoundError, all_versions

from tests.components.platform.helpers import api_of, is_custom_resource, is_k8s_object, manifest, platform_objects


def k8s_minor(result) -> str:
    return ".".join(result.config.cluster.kubernetes_version.split(".")[:2])


def test_the_validator_knows_the_cluster_version(any_stack):
    # kubernetes-validate 1.37.0 ships schemas up to 1.37; the cluster runs 1.35.
    assert k8s_minor(any_stack) + ".0" in all_versions()


def test_every_core_object_validates_strictly(any_stack, monkeypatch):
    # The schemas are read-only JSON: read each file once instead of once per object.
    monkeypatch.setattr(utils, "schema_contents", lru_cache(maxsize=None)(utils.schema_contents))
    version = k8s_minor(any_stack)
    objects = [r for r in any_stack.resources if is_k8s_object(r) and not is_custom_resource(r)]
    assert len(objects) > 100
    for r in objects:
        obj = manifest(r)
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{r.type} {r.name}: {err.message} at {list(err.path)}")


def test_custom_resources_are_not_silently_validated(any_stack):
    crs = [r for r in any_stack.resources if is_custom_resource(r)]
    assert crs
    for r in crs:
        with pytest.raises(SchemaNotFoundError):
            kubernetes_validate.validate(manifest(r), k8s_minor(any_stack), strict=True)


def _has(obj: dict, path: str) -> bool:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return False
        obj = obj[part]
    return obj not in (None, "", [], {})


# Required fields per kind, from the CRDs of the pinned charts (cert-manager v1.21.1, linkerd-crds
# 2026.8.3, apisix-ingress-controller crds of apisix-2.14.0, velero chart 12.1.0) plus what our objects must carry.
REQUIRED = {
    ("cert-manager.io/v1", "Certificate"): ["spec.secretName", "spec.issuerRef.name", "spec.issuerRef.kind"],
    ("cert-manager.io/v1", "Issuer"): [],
    ("cert-manager.io/v1", "ClusterIssuer"): [],
    ("policy.linkerd.io/v1beta3", "Server"): ["spec.podSelector", "spec.port"],
    ("policy.linkerd.io/v1alpha1", "AuthorizationPolicy"): ["spec.targetRef.kind", "spec.targetRef.name",
                                                            "spec.requiredAuthenticationRefs"],
    ("policy.linkerd.io/v1alpha1", "NetworkAuthentication"): ["spec.networks"],
    ("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication"): ["spec.identityRefs"],
    ("apisix.apache.org/v2", "ApisixRoute"): ["spec.ingressClassName", "spec.http"],
    ("apisix.apache.org/v2", "ApisixTls"): ["spec.hosts", "spec.secret.name", "spec.secret.namespace"],
    # required by the CRDs' openAPIV3Schema (grafana-operator v5.24.0, prometheus-operator v0.93.1, Velero 1.18)
    ("grafana.integreatly.org/v1beta1", "Grafana"): ["spec.version", "spec.config"],
    ("grafana.integreatly.org/v1beta1", "GrafanaDatasource"): ["spec.datasource", "spec.instanceSelector"],
    ("grafana.integreatly.org/v1beta1", "GrafanaDashboard"): ["spec.instanceSelector"],
    ("monitoring.coreos.com/v1", "PrometheusRule"): ["spec.groups"],
    ("monitoring.coreos.com/v1", "PodMonitor"): ["spec.selector", "spec.podMetricsEndpoints"],
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ["spec.selector", "spec.endpoints"],
    ("monitoring.coreos.com/v1", "Probe"): ["spec.prober.url", "spec.targets.staticConfig.static"],
    ("velero.io/v1", "Schedule"): ["spec.schedule", "spec.template"],
    ("apisix.apache.org/v2", "ApisixUpstream"): ["spec.ingressClassName", "spec.scheme"],
    # issue 12: CNPG 1.30 / barman-cloud v0.13, Strimzi 1.2.0, MCK 1.9.1, ECK 3.5.0 (strict schemas: test_data_crds.py)
    ("postgresql.cnpg.io/v1", "Cluster"): ["spec.instances"],
    ("postgresql.cnpg.io/v1", "Database"): ["spec.name", "spec.owner", "spec.cluster.name"],
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): ["spec.cluster.name", "spec.schedule"],
    ("barmancloud.cnpg.io/v1", "ObjectStore"): ["spec.configuration.destinationPath"],
    ("kafka.strimzi.io/v1", "Kafka"): ["spec.kafka.listeners"],
    ("kafka.strimzi.io/v1", "KafkaNodePool"): ["spec.replicas", "spec.storage", "spec.roles"],
    ("kafka.strimzi.io/v1", "KafkaTopic"): ["spec.partitions", "spec.replicas"],
    ("kafka.strimzi.io/v1", "KafkaUser"): ["spec.authentication.type"],
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): ["spec.security", "spec.type", "spec.users"],
    ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"): ["spec.nodeSets", "spec.version"],
    ("kibana.k8s.elastic.co/v1", "Kibana"): ["spec.version"],
}
ISSUER_KINDS = {"acme", "ca", "selfSigned", "vault", "venafi"}
CLUSTER_SCOPED = {"ClusterIssuer"}


def test_platform_custom_resources_carry_their_required_fields(any_stack):
    crs = [r for r in platform_objects(any_stack) if is_custom_resource(r)]
    kinds = {(manifest(r)["apiVersion"], manifest(r)["kind"]) for r in crs}
    assert kinds <= set(REQUIRED), kinds - set(REQUIRED)
    for r in crs:
        obj = manifest(r)
        assert obj["metadata"]["name"]
        assert ("namespace" in obj["metadata"]) == (obj["kind"] not in CLUSTER_SCOPED), r.name
        for path in REQUIRED[(obj["apiVersion"], obj["kind"])]:
            assert _has(obj, path), f"{r.name}: {path}"
        if obj["kind"] in ("Issuer", "ClusterIssuer"):
            assert len(ISSUER_KINDS & set(obj["spec"])) == 1, r.name
        if obj["kind"] == "ApisixRoute":
            for rule in obj["spec"]["http"]:
                assert rule["name"] and rule["match"]["paths"] and rule["match"]["hosts"]
                assert all(b["serviceName"] and b["servicePort"] for b in rule["backends"])
                assert all({"name", "enable"} <= set(p) for p in rule["plugins"])
        if obj["kind"] == "NetworkAuthentication":
            assert all(n["cidr"] for n in obj["spec"]["networks"])


def test_type_tokens_map_to_api_versions():
    assert api_of("kubernetes:core/v1:Namespace") == ("core", "v1", "Namespace")
    assert api_of("kubernetes:networking.k8s.io/v1:NetworkPolicy") == ("networking.k8s.io", "networking.k8s.io/v1", "NetworkPolicy")
    assert api_of("kubernetes:cert-manager.io/v1:Certificate")[1] == "cert-manager.io/v1"


def test_manifests_match_what_the_sdk_sent(dev):
    for r in dev.resources:
        if is_k8s_object(r):
            obj = manifest(r)
            assert (obj["apiVersion"], obj["kind"]) == (r.inputs["apiVersion"], r.inputs["kind"]), r.name
