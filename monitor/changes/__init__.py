"""Changes: what differs between two versions of an item, and which watchlist it fires."""
