"""Alerts: a person hears about every failed night, reconciliation problem and business event.

    model.py     an alert, its fingerprint and its deduplication policy
    outcome.py   why a run did not publish (failed checks and steps), from its events
    triggers.py  reconciliation, control and statement triggers on the build database
    digest.py    the nightly business digest (overdue crossings, credit-limit warnings)
    outbox.py    audit.alerts as the outbox, and the state the triggers keep
    channels.py  webhook and e-mail delivery with retries; secrets redacted
    stage.py     the alert stage at the end of the night: evaluate, record, deliver
    sensors.py   the same for runs started by Dagster (run-failure and success sensors)

See docs/alerts.md.
"""
