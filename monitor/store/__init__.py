"""Storing: items with every version, source health and the row lease that guards a poll."""
