"""Sync models, one module per responsibility; import them from here."""

from sync.models.automations import (
    STEP_WAITING,
    Automation,
    AutomationAction,
    AutomationRun,
    AutomationStep,
    Mode,
    RunStatus,
    StepStatus,
    Trigger,
)
from sync.models.catalog import OperationsCatalog
from sync.models.connections import Connection, Direction, FieldMapping, Health, Link, Rule
from sync.models.inbound import InboundEvent, InboundSource, InboundStatus
from sync.models.outbox import (
    REPLAYABLE,
    WAITING,
    ChangeStatus,
    DeliveryAttempt,
    Operation,
    OutboundChange,
)
from sync.models.presets import RestPreset
from sync.models.ratelimit import RateLimitBucket

__all__ = [
    "REPLAYABLE",
    "STEP_WAITING",
    "WAITING",
    "Automation",
    "AutomationAction",
    "AutomationRun",
    "AutomationStep",
    "ChangeStatus",
    "Connection",
    "DeliveryAttempt",
    "Direction",
    "FieldMapping",
    "Health",
    "InboundEvent",
    "InboundSource",
    "InboundStatus",
    "Link",
    "Mode",
    "Operation",
    "OperationsCatalog",
    "OutboundChange",
    "RateLimitBucket",
    "RestPreset",
    "Rule",
    "RunStatus",
    "StepStatus",
    "Trigger",
]
