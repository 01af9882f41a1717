"""Media: probing real types from bytes, and per-platform suitability."""
