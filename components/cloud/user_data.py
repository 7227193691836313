"""cloud-init user data that hardens every VM at first boot (the 2023 image's security.sh, as config).

No secret ever goes here: user data is readable from the metadata service by anything on the VM.
"""

from __future__ import annotations

from functools import lru_cache

import yaml
from pydantic import TypeAdapter

from ..config_types import UnixUser

# The sshd_config line `AllowUsers <user>` takes the user as a word: only a Unix user name gets there.
_SSH_USER = TypeAdapter(UnixUser)

SYSCTL = {
    "net.ipv4.conf.all.accept_redirects": 0,
    "net.ipv4.conf.default.accept_redirects": 0,
    "net.ipv4.conf.all.send_redirects": 0,
    "net.ipv4.conf.all.accept_source_route": 0,
    "net.ipv4.conf.all.log_martians": 1,
    "net.ipv4.icmp_echo_ignore_broadcasts": 1,
    "net.ipv4.tcp_syncookies": 1,
    "kernel.kptr_restrict": 2,
    "kernel.dmesg_restrict": 1,
    "kernel.yama.ptrace_scope": 1,
    "fs.protected_hardlinks": 1,
    "fs.protected_symlinks": 1,
    "fs.suid_dumpable": 0,
    # Elasticsearch's mmapfs needs more memory map areas than the kernel default (65530); set on the node
    # so ECK needs no privileged init container (Elastic's documented minimum).
    "vm.max_map_count": 262144,
}

SSHD = {
    "PermitRootLogin": "no",
    "PasswordAuthentication": "no",
    "KbdInteractiveAuthentication": "no",
    "PermitEmptyPasswords": "no",
    "X11Forwarding": "no",
    "MaxAuthTries": "3",
    "ClientAliveInterval": "300",
    "ClientAliveCountMax": "2",
    "LogLevel": "VERBOSE",
}

AUDIT_RULES = """\
-w /etc/passwd -p wa -k identity
-w /etc/group -p wa -k identity
-w /etc/shadow -p wa -k identity
-w /etc/sudoers -p wa -k privileged
-w /etc/ssh/sshd_config -p wa -k sshd
-w /etc/kubernetes/ -p wa -k kubernetes
-a always,exit -F arch=b64 -S execve -F euid=0 -k root-exec
"""

FAIL2BAN = """\
[sshd]
enabled = true
maxretry = 3
bantime = 1h
"""


_HOST = "coprs-user-data-hostname"  # stands for the hostname in the per-role template


def render(hostname: str, role: str, ssh_user: str) -> str:
    """cloud-config for one node; pure and deterministic.

    One YAML dump per role and user (a thousand nodes differ only by their hostname); a hostname YAML
    would not write as a plain scalar (quoted, say) gets a dump of its own.
    """
    if yaml.safe_dump(hostname) != f"{hostname}\n...\n":
        return _render(hostname, role, ssh_user)
    return _render(_HOST, role, ssh_user).replace(_HOST, hostname)


@lru_cache(maxsize=None)
def _render(hostname: str, role: str, ssh_user: str) -> str:
    ssh_user = _SSH_USER.validate_python(ssh_user)
    packages = ["auditd", "fail2ban", "unattended-upgrades", "chrony"]
    doc = {
        "hostname": hostname,
        "fqdn": hostname,
        "preserve_hostname": False,
        "ssh_pwauth": False,
        "disable_root": True,
        "package_update": True,
        "packages": packages,
        "write_files": [
            {"path": "/etc/sysctl.d/90-coprs-hardening.conf", "permissions": "0644",
             "content": "".join(f"{k} = {v}\n" for k, v in SYSCTL.items())},
            {"path": "/etc/ssh/sshd_config.d/90-coprs-hardening.conf", "permissions": "0600",
             "content": "".join(f"{k} {v}\n" for k, v in SSHD.items()) + f"AllowUsers {ssh_user}\n"
             + ("AllowTcpForwarding yes\n" if role == "bastion" else "AllowTcpForwarding no\n")},
            {"path": "/etc/audit/rules.d/90-coprs.rules", "permissions": "0640", "content": AUDIT_RULES},
            {"path": "/etc/fail2ban/jail.d/sshd.local", "permissions": "0644", "content": FAIL2BAN},
            {"path": "/etc/apt/apt.conf.d/51coprs-unattended", "permissions": "0644",
             "content": 'Unattended-Upgrade::Origins-Pattern { "origin=*,label=*-security"; };\n'},
        ],
        "runcmd": [
            ["sysctl", "--system"],
            ["systemctl", "enable", "--now", "auditd", "fail2ban", "chrony"],
            ["augenrules", "--load"],
            ["systemctl", "restart", "ssh"],
            ["passwd", "--lock", "root"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False, width=1000)
