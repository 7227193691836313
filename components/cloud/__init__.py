"""Cloud layer (OpenStack / Flexible Engine): network, security groups, node groups, load balancers."""

from .cloud import Cloud, Node

__all__ = ["Cloud", "Node"]
