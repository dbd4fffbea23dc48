from enum import StrEnum


class Direction(StrEnum):
    DELIVER = "deliver"
    RECEIVE = "receive"

    def __str__(self) -> str:
        return str(self.value)
