"""Optional generated answers: a language model writes, the sources decide what stays.

backends (which model server) → prompts (Dutch, numbered sources) → generate (stream, then
verify every sentence against the passage it cites) → verify (the check itself);
condense rewrites a follow-up into a standalone question before retrieval.
"""
