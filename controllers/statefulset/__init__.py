"""The StatefulSet controller: stable pod names, ordered start and stop, one claim per
replica, rolling updates from the highest ordinal down to the partition."""

from .controller import StatefulSetController

__all__ = ["StatefulSetController"]
