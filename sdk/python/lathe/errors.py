"""The one exception the SDK raises when the Lathe server says no or cannot be reached."""


class LatheError(RuntimeError):
    """The server refused a call (the message is the server's), or no answer came back.

    `status` is the HTTP status (None when there was no answer, or when the SDK refused the call
    itself, e.g. a missing CRN); `code` is the server's error code, e.g. "not_found".
    """

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __reduce__(self):
        # The default reduce passes only args, which would lose status and code across pickling
        # (multiprocessing, joblib).
        return (type(self), (self.message, self.status, self.code))
