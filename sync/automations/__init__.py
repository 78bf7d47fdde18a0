"""Automations: triggers → conditions → actions (models: sync/models/automations.py).

triggers.py    mirror changes and inbound events → AutomationRun + its steps (in the
               transaction of the change; nothing remote is called there)
templating.py  inputs rendered from the trigger's data and earlier steps' outputs
actions/       the operations each connector offers (the catalog lists them)
runner.py      claim a step with a lease, run its action, retry, dead-letter, replay
presets.py     ready automations an operator creates from a template
"""
