"""Where each mirror object stands in every connected system, without the mirror knowing any.

The sync layer registers a provider when it starts (sync/apps.py); the partner API asks for the
states of a whole page at once, so a provider answers for many objects in a few queries.
A provider takes objects of one model and returns {object pk: [state, ...]}, each state a dict
with `connection`, `provider`, `remote_id`, `status`, `last_error`, `synced_at`.
"""

from collections.abc import Callable, Sequence

from contacts.models import MirrorModel

SyncStateProvider = Callable[[Sequence[MirrorModel]], dict[int, list[dict]]]

_providers: list[SyncStateProvider] = []


def register_sync_state_provider(provider: SyncStateProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def sync_states_for(objects: Sequence[MirrorModel]) -> dict[int, list[dict]]:
    states: dict[int, list[dict]] = {}
    if not objects:
        return states
    for provider in _providers:
        for pk, rows in provider(objects).items():
            states.setdefault(pk, []).extend(rows)
    return states
