"""Delivery: the dispatcher that claims outbox rows and sends them, and the daily digests."""
