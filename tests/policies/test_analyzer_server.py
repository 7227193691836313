"""The pack as Pulumi runs it: `python policies` serves the analyzer gRPC protocol on 127.0.0.1; the
engine's calls (GetAnalyzerInfo, Analyze, AnalyzeStack) get the catalogue and its verdicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.coprs_policies.registry import RULES

ROOT = Path(__file__).resolve().parents[2]
SGR = "openstack:networking/secGroupRule:SecGroupRule"
MANDATORY = 1  # pulumirpc.EnforcementLevel.MANDATORY


@pytest.fixture(scope="module")
def analyzer():
    proc = subprocess.Popen([sys.executable, "policies"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def test_analyzer_info_lists_the_catalogue(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "coprs-security"
    assert [p.name for p in info.policies] == [r.rule_id for r in RULES]
    os12 = next(p for p in info.policies if p.name == "OS-12")
    assert "adminCidrs" in os12.configSchema.properties and os12.remediation_steps and list(os12.tags)


def test_analyze_reports_world_ssh_and_skips_unknowns(analyzer):
    rule = {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "0.0.0.0/0"}
    urn = f"urn:pulumi:dev::coprs::{SGR}::ssh"
    resp = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(type=SGR, properties=_struct(rule), urn=urn, name="ssh"))
    hits = {d.policyName: d for d in resp.diagnostics}
    assert hits["OS-03"].enforcementLevel == MANDATORY and "port 22" in hits["OS-03"].message
    resp = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(
        type=SGR, properties=_struct({**rule, "remoteIpPrefix": UNKNOWN_STRING_VALUE}), urn=urn, name="ssh"))
    assert "OS-03" not in {d.policyName for d in resp.diagnostics}
    assert "OS-03" in {n.policy_name for n in resp.not_applicable}


def test_analyze_stack_joins_the_graph(analyzer):
    ns = analyzer_pb2.AnalyzerResource(
        type="kubernetes:core/v1:Namespace", name="database", urn="urn:pulumi:dev::coprs::kubernetes:core/v1:Namespace::database",
        properties=_struct({"metadata": {"name": "database", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}))
    resp = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[ns]))
    st01 = [d for d in resp.diagnostics if d.policyName == "ST-01"]
    assert st01 and "default-deny" in st01[0].message and st01[0].urn == ns.urn
