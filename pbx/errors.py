class PbxError(RuntimeError):
    """A problem with the local Asterisk runtime, worded for the operator who must fix it."""
