"""Inbound webhooks from the CRM and from partners (see README: Webhooks)."""
