"""The Deployment controller: the reconcile loop (`controller`), one rollout step per
strategy (`rollout`), the status it reports (`status`) and the helpers they share (`util`)."""

from .controller import DeploymentController

__all__ = ["DeploymentController"]
