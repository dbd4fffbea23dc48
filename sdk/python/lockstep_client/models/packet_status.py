from enum import StrEnum


class PacketStatus(StrEnum):
    COMMITTED = "committed"
    DELIVERED = "delivered"
    PENDING = "pending"
    UNREADABLE = "unreadable"
    VERIFIED = "verified"

    def __str__(self) -> str:
        return str(self.value)
