"""Inbound: how a remote change becomes a mirror change, whichever path brought it.

    values.py    mapped values compared as the write path stores them (canonical form)
    snapshot.py  the remote's last known mapped fields, kept on each Link
    policy.py    the one conflict rule and write permission (invariants 5, 6 and 10)
    apply.py     apply_remote_change(): find, decide, write through contacts.services, link

Webhooks (views → intake → processing → delivery), backfill (ops/ingest.py) and reconcile
(ops/reconcile.py) call it. Nothing here knows a provider: a connector's own webhook endpoint
and record shapes are reached through the registry (sync/connectors/receiving.py,
Connector.inbound_source).
"""
