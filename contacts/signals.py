"""How the mirror announces its changes without knowing who listens.

`mirror_changed` is sent by the write path inside its transaction, after the row and its audit
entry are saved. Receivers (the sync outbox) write in the same transaction, so a change and the
work it causes commit or roll back together.

Arguments: instance, action ("create"/"update"/"delete"), changes ({field: [before, after]}),
actor (portal.actors.Actor).
"""

from django.dispatch import Signal

mirror_changed = Signal()
