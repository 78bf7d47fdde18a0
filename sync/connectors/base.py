"""The connector interface (expanded in sync/connectors/base.py's later revision)."""

from typing import ClassVar

from sync.mapping_specs import FieldSpec


class Connector:
    provider: ClassVar[str] = ""
    default_mappings: ClassVar[dict[str, list[FieldSpec]]] = {}

    def __init__(self, connection) -> None:
        self.connection = connection
