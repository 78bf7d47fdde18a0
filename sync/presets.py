"""REST presets: loading them (data migration), and making a connection from one (command).

`connections add rest --preset signage --base-url … --api-key …` copies the preset's config
into the connection's options (with the paths the operator must confirm), switches on the
object types it configures, and creates the preset's field mappings for the connection.
`--config file.json` takes a config of the same shape instead of a stored preset.
"""

import copy
import json
from pathlib import Path
from typing import Any

from django.db import transaction

from sync.models import Connection, Direction, FieldMapping, RestPreset
from sync.models.presets import paths_to_confirm, validate_config
from sync.objects import ObjectType

PRESETS_FILE = Path(__file__).resolve().parent / "data" / "rest_presets.json"
CREDENTIALS = {
    "bearer": ("token",),
    "api_key": ("api_key",),
    "basic": ("client_id", "api_key"),
    "oauth2": ("client_id", "client_secret"),
}


def load_presets(model=RestPreset) -> int:
    """Create or refresh the shipped presets from PRESETS_FILE (operators' edits are replaced)."""
    entries = json.loads(PRESETS_FILE.read_text())
    for entry in entries:
        model.objects.update_or_create(slug=entry["slug"], defaults=entry)
    return len(entries)


def add_preset_arguments(parser: Any, auth_types: tuple[str, ...]) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="slug of a REST preset (see the admin)")
    source.add_argument("--config", help="a JSON file: {config, mappings} like a preset")
    parser.add_argument("--auth-type", choices=auth_types, help="default: the preset's")
    for flag in ("--token", "--api-key", "--client-id", "--client-secret"):
        parser.add_argument(flag, default="")
    parser.add_argument("--api-key-header", help="for --auth-type api_key (X-API-Key)")
    parser.add_argument("--api-key-prefix", help='e.g. "ApiKey " (default none)')


def template(options: dict[str, Any]) -> dict[str, Any]:
    """{slug, config, mappings} from --preset or --config (ValueError if missing or bad)."""
    if options.get("preset"):
        preset = RestPreset.objects.filter(slug=options["preset"]).first()
        if preset is None:
            known = ", ".join(RestPreset.objects.values_list("slug", flat=True)) or "none"
            raise ValueError(f"No REST preset {options['preset']!r} (known: {known}).")
        return {"slug": preset.slug, "config": preset.config, "mappings": preset.mappings}
    try:
        data = json.loads(Path(options["config"]).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"Cannot read the config file: {exc}") from exc
    return {"slug": "", "config": data.get("config", data), "mappings": data.get("mappings", {})}


def connection_fields_from_preset(options: dict[str, Any]) -> dict[str, Any]:
    source = template(options)
    config = copy.deepcopy(source["config"])
    validate_config(config)
    auth = config.setdefault("auth", {"type": "bearer"})
    if options.get("auth_type"):
        auth["type"] = options["auth_type"]
    for key in ("header", "prefix"):
        if options.get(f"api_key_{key}") is not None:
            auth[key] = options[f"api_key_{key}"]
    needed = CREDENTIALS[auth["type"]]
    missing = [f"--{name.replace('_', '-')}" for name in needed if not options.get(name)]
    if missing:
        raise ValueError(f"The {auth['type']} auth needs {' and '.join(missing)}.")
    config.update(preset=source["slug"], paths_to_confirm=paths_to_confirm(config))
    configured = config["objects"]
    directions = {
        f"{t}s_direction": Direction.OUT if t in configured else Direction.OFF
        for t in ObjectType.values
    }
    credentials = {name: options[name] for name in needed}
    return {"credentials": credentials, "options": config, **directions}


def apply_preset_mappings(connection: Connection, options: dict[str, Any]) -> str:
    """Create the template's field mappings; returns what the operator must confirm."""
    mappings = template(options)["mappings"]
    with transaction.atomic():
        for object_type, rows in mappings.items():
            for position, row in enumerate(rows):
                FieldMapping.objects.create(
                    connection=connection, object_type=object_type, position=position, **row
                )
    confirm = connection.options.get("paths_to_confirm") or []
    if not confirm:
        return ""
    return "Confirm these paths with the partner before going live:\n  " + "\n  ".join(confirm)
