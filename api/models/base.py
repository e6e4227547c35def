"""The base every kubelab model derives from: camelCase JSON names, unknown fields kept."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# Quantities arrive as strings ("500m") but YAML users also write plain numbers (cpu: 2).
Quantity = str | int | float
# Kubernetes IntOrString (ports, maxSurge "25%").
IntOrString = int | str
# RFC 3339 timestamps are kept as the exact strings the server wrote.
Time = str


class K8sModel(BaseModel):
    """A Kubernetes object or sub-object.

    Python names are snake_case; the JSON names are the Kubernetes camelCase ones.
    Fields this model does not know are kept (``extra="allow"``) so nothing a newer
    client sends is lost on a round trip.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        serialize_by_alias=True,
        protected_namespaces=(),
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: camelCase keys, unset (None) fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
