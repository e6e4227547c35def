"""The HorizontalPodAutoscaler controller: ``replicas`` (the replica calculator),
``behavior`` (stabilization and policies), ``decide`` (one sync, pure), ``controller``
(the shell)."""

from .controller import HorizontalPodAutoscalerController

__all__ = ["HorizontalPodAutoscalerController"]
