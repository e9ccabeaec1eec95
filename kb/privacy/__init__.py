"""Personal data, injected instructions, private files."""
