"""The one error type the command line turns into a one-line message."""


class InputError(ValueError):
    """A user-facing problem with an input or output: the message names the file, frame or value."""
