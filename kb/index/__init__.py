"""The passage index: Chroma store, schema, passage text, locking, backup."""
