"""The platform layer: namespace baselines and platform apps on the cluster's Kubernetes provider."""

from .platform import Platform

__all__ = ["Platform"]
