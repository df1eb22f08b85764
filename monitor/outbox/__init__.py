"""The outbox: rows queued in the poll's transaction for the dispatcher to deliver."""
