"""Exceptions whose message is meant for the user (Dutch, one plain sentence + what to do)."""


class KBError(Exception):
    """Base class: the message is shown to the user as is."""


class ConfigError(KBError):
    """A setting (``KB_*`` variable or option) is invalid."""


class ModelMismatchError(KBError):
    """The index was built with another embedding model than the one configured."""


class StoreUnavailableError(KBError):
    """The Chroma store (local folder or server) cannot be reached or opened."""


class DocumentError(KBError):
    """One file cannot be ingested; the rest of the batch goes on."""


class QuestionError(KBError):
    """The question cannot be answered as asked (empty, too long)."""


class SchemaTooNewError(KBError):
    """The index was written by a newer version of the knowledge base than this one."""
