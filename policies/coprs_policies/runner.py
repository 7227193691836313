"""Rules on the commands the program runs (the Kubespray runner: `command:local:Command`, `command:remote:Command`).

Command lines show up in the Pulumi log, in `ps` and in the state; they must carry no credential, and
whatever they download must come over verified TLS. Secrets reach a command through `stdin` or a file
written from a secret output, never through its command line.
"""

from __future__ import annotations

import re
from typing import Iterator

from . import credentials as cred
from .base import Cfg, Res, ResourceRule, elements, items, meta, opt, strings

RULES: list = []
COMMAND_TYPES = ("command:local:Command", "command:remote:Command")
SCRIPT_FIELDS = ("create", "update", "delete", "read")
_ASSIGN = re.compile(r"(?<![\w$])([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"$`]+\"|'[^']+'|[^\s\"'$`;|&]+)")
_FLAG = re.compile(r"--?([A-Za-z][\w-]*)[= ]+(\"[^\"$`]+\"|'[^']+'|[^\s\"'$`;|&-][^\s\"'$`;|&]*)")


def rule(m, check) -> None:
    RULES.append(ResourceRule(m, "runner", COMMAND_TYPES, check))


def _credentials_in(script: str) -> list[str]:
    found = []
    if cred.secret_shaped(script):
        found.append(cred.describe(script))
    for m in _ASSIGN.finditer(script):
        if cred.sensitive_key(m.group(1)) and cred.literal(m.group(2).strip("'\"")):
            found.append(f"variable {m.group(1)}")
    for m in _FLAG.finditer(script):
        if cred.sensitive_key(m.group(1).replace("-", "_")) and cred.literal(m.group(2).strip("'\"")):
            found.append(f"option --{m.group(1)}")
    return found


def _cmd01(res: Res, cfg: Cfg) -> Iterator[str]:
    for f in SCRIPT_FIELDS:
        script = opt(res.props, f)
        if isinstance(script, str):
            for what in sorted(set(_credentials_in(script))):
                yield f"the `{f}` command line carries {what} in clear"
    for key, value in items(opt(res.props, "environment")):
        if cred.secret_shaped(value):
            yield f"environment {key} holds {cred.describe(value)}; pass it on stdin or as a 0600 file"
    for i, t in enumerate(elements(opt(res.props, "triggers"))):
        if cred.secret_shaped(t):
            yield f"triggers[{i}] holds {cred.describe(t)}; trigger on a hash instead"


rule(meta("CMD-01", "high", "Command lines, environments and triggers of the cluster runner carry no credential",
          ["NSA:C-0012", "COPRS:secrets"],
          "Hand secrets to the command on stdin or through a file written with mode 0600; trigger on hashes."), _cmd01)

_CURL_PIPE = re.compile(r"\b(curl|wget)\b[^|;&\n]*\|\s*(sudo\s+)?(ba|z|da)?sh\b")
_INSECURE = re.compile(r"(\bcurl\b[^;&|\n]*\s(-k|--insecure)\b|\bwget\b[^;&|\n]*--no-check-certificate|GIT_SSL_NO_VERIFY=|"
                       r"--trusted-host\b|\bpip3?\b[^;&|\n]*--index-url\s+http://)")
_HTTP = re.compile(r"\bhttp://([^/\s:\"']+)")


def _cmd02(res: Res, cfg: Cfg) -> Iterator[str]:
    for f in SCRIPT_FIELDS:
        script = opt(res.props, f)
        if not isinstance(script, str):
            continue
        for m in _HTTP.finditer(script):
            if m.group(1) not in cfg["plainHttpHosts"]:
                yield f"the `{f}` command fetches from http://{m.group(1)} without TLS"
        if _INSECURE.search(script):
            yield f"the `{f}` command turns TLS verification off"
        if _CURL_PIPE.search(script):
            yield f"the `{f}` command pipes a download straight into a shell"


rule(meta("CMD-02", "medium", "The cluster runner downloads only over verified TLS and never pipes downloads into a shell",
          ["COPRS:supply-chain", "NSA:supply-chain"],
          "Use https URLs with verification on; download, verify (checksum/tag), then run.",
          {"plainHttpHosts": strings("hosts allowed over plain http", ["localhost", "127.0.0.1"])}), _cmd02)
