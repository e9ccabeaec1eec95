"""Dutch text and words."""
