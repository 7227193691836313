"""The stack outputs of architecture §7: nothing secret in clear."""

from __future__ import annotations

from offline.harness import SECRET, RunResult, iter_values


def test_outputs_of_the_whole_program(any_stack: RunResult):
    out = any_stack.outputs
    for key in ("kubeconfig", "sshPrivateKey", "credentials"):
        assert out[key] == SECRET, key
    domain = any_stack.config.domain
    assert out["urls"]["ceph"] == f"https://ceph.{domain}"
    assert out["urls"]["monitoring-prometheus"] == f"https://monitoring.{domain}/prometheus/"
    assert all(url.startswith("https://") and url.split("/")[2].endswith("." + domain) for url in out["urls"].values())
    assert set(out["buckets"]) == {"thanos", "loki", "es-processing", "es-security", "backups"}
    assert out["bastionAddresses"] and out["ingressAddress"]


def test_generated_credentials_are_exported_only_as_a_secret(any_stack: RunResult):
    creds = any_stack.raw_outputs["credentials"]
    assert "apisix/apisix-admin" in creds
    generated = {v for v in iter_values(creds)}
    assert generated
    clear = set(iter_values({k: v for k, v in any_stack.outputs.items()}))
    assert not generated & clear
