"""Sample provider responses for ``monitor demo`` (package data)."""
