"""How the mirror announces its changes without knowing who listens.

`mirror_changed` is sent by the write path inside its transaction, after the row and its audit
entry are saved. Receivers (the sync outbox) write in the same transaction, so a change and the
work it causes commit or roll back together.

Arguments: instance, action ("create"/"update"/"delete"), changes ({field: [before, after]}),
actor (portal.actors.Actor).
"""

from django.dispatch import Signal

mirror_changed = Signal()

# Sent by contacts.erasure.contact_erase inside its transaction, after the contact and its
# children are tombstoned and blanked. Arguments: contact, rows (the contact and its children),
# terms (its personal values as they may appear in stored text), actor. Receivers scrub what
# they store about these rows (the sync layer: pushes, delivery attempts, webhook bodies).
contact_erased = Signal()
