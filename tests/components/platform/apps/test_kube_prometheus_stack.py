"""kube-prometheus-stack: the seed's figures, HA on the prometheus nodes, Thanos sidecar, every monitor selected."""

from __future__ import annotations

from tests.components.platform.helpers import NETWORK_POLICY, platform_run, releases


def _spec(result):
    return releases(result)["kube-prometheus-stack"].inputs["values"]["prometheus"]["prometheusSpec"]


def test_prometheus_keeps_the_seeds_figures(any_stack):
    spec = _spec(any_stack)
    assert (spec["scrapeInterval"], spec["evaluationInterval"], spec["retention"]) == ("30s", "30s", "2d")
    # Every monitor, probe and rule of the cluster: nil selectors, no release label required.
    for kind in ("serviceMonitor", "podMonitor", "probe", "rule", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
    assert spec["thanos"]["blockSize"] == "30m"  # uploaded after 30 minutes
    assert spec["thanos"]["objectStorageConfig"] == {"existingSecret": {"name": "thanos-objstore", "key": "objstore.yml"}}
    assert spec["replicaExternalLabelName"] == "prometheus_replica"
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "ceph-block"


def test_two_replicas_on_the_prometheus_nodes_in_prod(prod, dev):
    spec = _spec(prod)
    assert spec["replicas"] == 2 and spec["podAntiAffinity"] == "hard"
    term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [{"key": "node-role.kubernetes.io/prometheus", "operator": "Exists"}]
    assert releases(prod)["kube-prometheus-stack"].inputs["values"]["alertmanager"]["alertmanagerSpec"]["replicas"] == 2
    assert _spec(dev)["replicas"] == 1
    # dev has no prometheus node group: the infra nodes.
    dev_term = _spec(dev)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert dev_term["matchExpressions"][0]["key"] == "node-role.kubernetes.io/infra"


def test_control_plane_node_exporter_and_crds(any_stack):
    rel = releases(any_stack)
    v = rel["kube-prometheus-stack"].inputs["values"]
    assert v["crds"] == {"enabled": False} and rel["prometheus-operator-crds"].inputs["version"] == "31.0.1"
    assert v["prometheus-node-exporter"]["namespaceOverride"] == "monitoring-node"
    assert v["kubeEtcd"]["service"] == {"port": 2381, "targetPort": 2381}
    assert v["kubeProxy"]["service"]["port"] == 10249
    assert v["defaultRules"]["create"] is True and v["grafana"]["enabled"] is False
    ns = {r.inputs["metadata"]["name"]: r.inputs["metadata"] for r in any_stack.of_type("kubernetes:core/v1:Namespace")}
    assert ns["monitoring-node"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert ns["monitoring-node"]["annotations"]["linkerd.io/inject"] == "disabled"


def test_prometheus_reaches_the_node_metrics_ports_only(any_stack):
    pol = {(p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): p.inputs["spec"]
           for p in any_stack.of_type(NETWORK_POLICY)}
    egress = pol[("monitoring", "allow-prometheus-hosts-out")]
    assert egress["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert {p["port"] for p in egress["egress"][0]["ports"]} == {9100, 10250, 2381, 10249, 10257, 10259}


def test_alert_receivers_from_config():
    r = platform_run("dev", {"coprs:platform.apps.kube-prometheus-stack.settings": {
        "alertReceivers": [{"name": "ops", "webhookUrl": "https://hooks.example.org/x", "severities": ["critical"]}]}})
    cfg = releases(r)["kube-prometheus-stack"].inputs["values"]["alertmanager"]["config"]
    ops = next(x for x in cfg["receivers"] if x["name"] == "ops")
    assert ops["webhook_configs"][0]["url"] == "https://hooks.example.org/x"
    assert {"receiver": "ops", "continue": True, "matchers": ['severity =~ "critical"']} in cfg["route"]["routes"]


def test_platform_alert_rules_with_runbooks(any_stack):
    rules = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in any_stack.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")}
    alerts = {a["alert"]: a for spec in rules.values() for g in spec["groups"] for a in g["rules"]}
    for needed in ("CephHealthError", "KafkaUnderReplicatedPartitions", "ElasticsearchClusterRed", "PostgreSQLReplicationLag",
                   "CertificateExpiresSoon", "VeleroBackupFailed", "EndpointDown"):
        assert needed in alerts, needed
    for name, a in alerts.items():
        assert a["annotations"]["runbook"] and a["annotations"]["summary"], name
        assert a["labels"]["severity"] in ("critical", "warning", "info") and a["expr"] and a["for"], name
    assert 'probe_success{job="ui-endpoints"}' in alerts["EndpointDown"]["expr"]
    # no alert that cannot but fire: a standby alert only where PostgreSQL has standbys
    assert ("PostgreSQLNotReplicating" in alerts) == (any_stack.stack == "prod")


def test_alert_groups_follow_the_deployed_apps():
    from tests.components.platform.apps.data import variant_run  # dev: external Kafka, PostgreSQL off

    r = variant_run()
    names = {x.inputs["metadata"]["name"] for x in r.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")}
    assert "platform-kafka" not in names and "platform-postgresql" not in names  # nothing of ours to measure
    assert {"platform-ceph", "platform-elasticsearch", "platform-certificates"} <= names


def test_only_prometheus_scrapes_other_namespaces(any_stack):
    scrape = [p.inputs for p in any_stack.of_type(NETWORK_POLICY) if p.inputs["metadata"]["name"] == "allow-scrape-from-monitoring"]
    assert scrape
    for p in scrape:
        peer = p["spec"]["ingress"][0]["from"][0]
        assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
        assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}


def test_bad_settings_name_the_key():
    import pytest

    from components.config import ConfigError

    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.kube-prometheus-stack\.settings\.retention"):
        platform_run("dev", {"coprs:platform.apps.kube-prometheus-stack.settings": {"retention": "two days"}})
    with pytest.raises(ConfigError, match=r"settings\.alertReceivers\.0\.webhookUrl"):
        platform_run("dev", {"coprs:platform.apps.kube-prometheus-stack.settings": {
            "alertReceivers": [{"name": "ops", "webhookUrl": "http://plain.example.org"}]}})


def test_alertmanager_silences_are_backed_up_by_velero(any_stack):
    from components.storage.backups import declared_backups, missing_backups

    schedule = declared_backups(any_stack.resources)["kube-prometheus-stack"]
    spec = schedule.props["spec"]
    assert spec["template"]["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}
    assert spec["template"]["includedNamespaces"] == ["monitoring"] and spec["template"]["ttl"] == "168h0m0s"
    # declared by the backups player (Velero is ordered after the monitoring app: a child of it would be a cycle)
    (recorded,) = [r for r in any_stack.of_type("kubernetes:velero.io/v1:Schedule")
                   if r.inputs["metadata"]["name"] == "backup-kube-prometheus-stack"]
    assert recorded.parent.endswith("coprs:platform:App::velero")
    assert missing_backups(any_stack.resources) == []
