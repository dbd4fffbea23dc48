from enum import StrEnum


class MessageKind(StrEnum):
    ABORT = "ABORT"
    LOCKED = "LOCKED"
    RELEASE = "RELEASE"

    def __str__(self) -> str:
        return str(self.value)
