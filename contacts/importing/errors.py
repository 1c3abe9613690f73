class ImportFileError(Exception):
    """The file (or the mapping for it) cannot be imported; the message is shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ImportTooLarge(ImportFileError):
    """The file is over the configured size or row limit (413 from the API)."""
