from enum import StrEnum


class RepoStatus(StrEnum):
    CLOSED = "closed"
    CLOSE_FAILED = "close_failed"
    CLOSING = "closing"
    OPEN = "open"

    def __str__(self) -> str:
        return str(self.value)
