"""Elasticsearch + Kibana processing and security (ECK): node sets, TLS, users, snapshots by a settings Job, Kibana route."""

from __future__ import annotations

import pytest

from tests.components.platform.apps.data import (assert_no_literal_password, assert_restricted_pod, assert_schema_valid,
                                                 claims_run, of_kind, one, secret, variant_run)

CLUSTERS = (("elasticsearch-processing", "database", "kibana-processing", "processing"),
            ("elasticsearch-security", "security", "kibana-security", "security"))


@pytest.mark.parametrize("name,ns,kibana,host", CLUSTERS)
def test_node_sets_per_stack(name, ns, kibana, host):
    prod = one(claims_run("prod"), "Elasticsearch", name)["spec"]
    sets = {s["name"]: s for s in prod["nodeSets"]}
    assert (sets["coordinating"]["count"], sets["coordinating"]["config"]["node.roles"], sets["node"]["count"]) == (2, [], 3)
    for s in sets.values():
        pod = s["podTemplate"]["spec"]
        assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"] == \
            {"matchLabels": {"elasticsearch.k8s.elastic.co/cluster-name": name}}
        assert_restricted_pod(pod)
        assert "node.store.allow_mmap" not in s["config"]  # vm.max_map_count is set on the nodes
    dev = one(claims_run("dev"), "Elasticsearch", name)["spec"]
    assert [(s["name"], s["count"]) for s in dev["nodeSets"]] == [("node", 1)]


@pytest.mark.parametrize("name,ns,kibana,host", CLUSTERS)
def test_security_tls_and_users(name, ns, kibana, host):
    r = claims_run("prod")
    spec = one(r, "Elasticsearch", name)["spec"]
    assert spec["http"]["tls"] == {"certificate": {"secretName": f"{name}-tls"}}
    assert not any("xpack.security" in k for s in spec["nodeSets"] for k in s["config"])
    realm = [x["secretName"] for x in spec["auth"]["fileRealm"]]
    assert f"{name}-user-operator" in realm
    op = secret(r, ns, f"{name}-user-operator")
    assert op.inputs["type"] == "kubernetes.io/basic-auth"
    assert op.inputs["stringData"]["roles"] == "monitoring_user,reporting_user,kibana_admin"
    assert spec["secureSettings"] == [{"secretName": f"{'es-processing' if 'processing' in name else 'es-security'}-s3-keystore"}]


def test_claims_are_served_by_the_right_cluster_with_their_index_rights():
    import yaml

    r = claims_run("prod")
    d = secret(r, "logging", "elasticsearch-fluentd").inputs["stringData"]
    assert d["url"] == "https://elasticsearch-processing-es-http.database.svc:9200" and d["username"] == "fluentd"
    d = secret(r, "logging", "elasticsearch-security-fluentd").inputs["stringData"]
    assert d["url"] == "https://elasticsearch-security-es-http.security.svc:9200" and d["username"] == "fluentd"
    assert secret(r, "database", "elasticsearch-processing-user-fluentd").inputs["stringData"]["roles"] == "coprs_fluentd"
    assert secret(r, "database", "elasticsearch-processing-user-grafana").inputs["stringData"]["roles"] == "coprs_grafana"
    names = {(x.inputs["metadata"]["namespace"], x.inputs["metadata"]["name"]) for x in of_kind(r, "Secret")}
    assert ("security", "elasticsearch-security-user-grafana") not in names  # Grafana reads processing only

    def roles(ns, cluster):
        return yaml.safe_load(secret(r, ns, f"{cluster}-roles").inputs["stringData"]["roles.yml"])

    writer = {"create_index", "create_doc", "view_index_metadata", "auto_configure"}
    processing, security = roles("database", "elasticsearch-processing"), roles("security", "elasticsearch-security")
    assert processing["coprs_fluentd"]["indices"][0]["names"] == ["processing_trace-*"]
    assert set(processing["coprs_fluentd"]["indices"][0]["privileges"]) == writer
    assert set(security["coprs_fluentd"]["indices"][0]["privileges"]) == writer
    assert security["coprs_fluentd"]["indices"][0]["names"] == ["security-*"]
    assert processing["coprs_grafana"]["indices"] == [{"names": ["processing_trace-*"], "privileges": ["read", "view_index_metadata"]}]
    assert "coprs_grafana" not in security
    for body in (processing["coprs_fluentd"], security["coprs_fluentd"], processing["coprs_grafana"]):
        assert body["cluster"] == ["monitor"]  # no write, delete or manage privilege anywhere


def test_crs_match_the_eck_crds_and_hold_no_password():
    for stack in ("dev", "prod"):
        assert_schema_valid(claims_run(stack), ("Elasticsearch", "Kibana"))
        assert_no_literal_password(claims_run(stack), ("Elasticsearch", "Kibana", "Job"))


def _job(r, name):
    jobs = [j for j in of_kind(r, "Job") if j.inputs["metadata"]["name"].startswith(f"{name}-settings-")]
    assert len(jobs) == 1
    return jobs[0]


def test_settings_job_is_pinned_restricted_and_rerun_when_its_definition_changes():
    r = claims_run("dev")
    job = _job(r, "elasticsearch-security")
    pod = job.inputs["spec"]["template"]["spec"]
    image = pod["containers"][0]["image"]
    assert ":" in image and not image.endswith(":latest")
    assert_restricted_pod(pod)
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert '"expire_after": "180d"' in env["SLM_BODY"] and '"bucket": "' in env["REPOSITORY_BODY"]
    assert "expire_after" not in {e["name"]: e.get("value") for e in _job(r, "elasticsearch-processing").inputs["spec"]["template"]["spec"]["containers"][0]["env"]}["SLM_BODY"]
    changed = _job(variant_run(), "elasticsearch-security")
    assert changed.inputs["metadata"]["name"] != job.inputs["metadata"]["name"]
    assert '"expire_after": "90d"' in {e["name"]: e.get("value") for e in changed.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}["SLM_BODY"]
    record = one(r, "ConfigMap", "backup-elasticsearch-security")["data"]
    assert record["method"] == "elasticsearch-snapshot" and record["bucket"].endswith("-es-security")


@pytest.mark.parametrize("name,ns,kibana,host", CLUSTERS)
def test_kibana_behind_oidc_and_no_route_to_elasticsearch(name, ns, kibana, host):
    r = claims_run("prod")
    kb = one(r, "Kibana", kibana)["spec"]
    assert kb["config"]["server.basePath"] == "/kibana" and kb["elasticsearchRef"] == {"name": name}
    routes = [x.inputs for x in of_kind(r, "ApisixRoute") if x.inputs["metadata"]["namespace"] == ns]
    rules = [h for x in routes for h in x["spec"]["http"] if h["backends"][0]["serviceName"] == f"{kibana}-kb-http"]
    assert [(h["match"]["paths"], h["backends"][0]["serviceName"]) for h in rules] == [(["/kibana*"], f"{kibana}-kb-http")]
    assert any(p["name"] == "openid-connect" for p in rules[0]["plugins"])
    assert one(r, "ApisixUpstream", f"{kibana}-kb-http")["spec"]["scheme"] == "https"


@pytest.mark.parametrize("name,ns,kibana,host", CLUSTERS)
def test_exporter_reads_the_cluster_with_its_own_user_over_tls(name, ns, kibana, host):
    from tests.components.platform.apps.data import render_pods
    from tests.components.platform.helpers import releases

    r = claims_run("prod")
    rel = releases(r)[f"{name}-exporter"]
    assert (rel.inputs["chart"], rel.inputs["version"], rel.inputs["namespace"]) == ("prometheus-elasticsearch-exporter", "7.4.0", ns)
    values = rel.inputs["values"]
    assert values["es"]["uri"] == f"https://{name}-es-http.{ns}.svc:9200" and values["es"]["ssl"]["enabled"]
    assert values["extraEnvSecrets"]["ES_PASSWORD"] == {"secret": f"{name}-user-coprs-monitor", "key": "password"}
    monitor = secret(r, ns, f"{name}-user-coprs-monitor")
    assert monitor.urn in rel.dependencies
    for pod in render_pods("prometheus-elasticsearch-exporter-7.4.0", values, ns):
        assert_restricted_pod(pod)
        c = pod["containers"][0]
        args = " ".join(c.get("command", []) + c.get("args", []))
        assert "--es.ca=/ssl/ca.crt" in args and "--es.uri=https://" in args


def test_backup_records_carry_the_configured_retention():
    from components.storage.backups import declared_backups
    from tests.components.platform.apps.data import variant_run  # elasticsearch-security: snapshotRetentionDays 90

    def days(result, app):
        return declared_backups(result.resources)[app].props["metadata"]["annotations"]["backup.coprs.esa.int/retention-days"]

    assert days(variant_run(), "elasticsearch-security") == "90"
    assert days(claims_run("prod"), "elasticsearch-security") == "180"  # the seed's 6 months by default
    assert days(claims_run("prod"), "postgresql") == "30"  # settings.backupRetentionDays

