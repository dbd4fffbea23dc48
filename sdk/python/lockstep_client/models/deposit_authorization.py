from enum import StrEnum


class DepositAuthorization(StrEnum):
    DEPOSITOR = "depositor"
    DEPOSIT_KEY = "deposit_key"

    def __str__(self) -> str:
        return str(self.value)
