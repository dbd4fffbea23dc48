from enum import StrEnum


class InstructionStatus(StrEnum):
    CANCELLED = "cancelled"
    CLOSED = "closed"
    EXPIRED = "expired"
    MATCHED = "matched"
    PENDING_MATCH = "pending_match"

    def __str__(self) -> str:
        return str(self.value)
