"""Cluster layer: Kubespray bootstrap from the cloud layer's VMs, or an existing cluster's kubeconfig."""

from .cluster import Cluster
from .kubespray import KubesprayRun

__all__ = ["Cluster", "KubesprayRun"]
