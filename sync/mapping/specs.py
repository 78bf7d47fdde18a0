"""FieldSpec: one mapped field (code defaults use it directly; FieldMapping rows become it).

Kept apart from sync/mapping/mapper.py so connector modules can declare defaults without cycles.
"""

from dataclasses import dataclass
from typing import Any

# Transforms beyond FieldMapping.Transform that code defaults use:
CUSTOM_FIELDS = "custom_fields"  # mirror {key: value} ↔ remote [{"id": key, "value": v}]
REFERENCE = "reference"  # mirror foreign key ↔ the related object's remote id (via Link)

_OUT = ("out", "both")
_IN = ("in", "both")


@dataclass(frozen=True)
class FieldSpec:
    mirror_field: str
    remote_path: str
    direction: str = "both"
    transform: str = ""
    argument: Any = None

    @property
    def outbound(self) -> bool:
        return self.direction in _OUT

    @property
    def inbound(self) -> bool:
        return self.direction in _IN
