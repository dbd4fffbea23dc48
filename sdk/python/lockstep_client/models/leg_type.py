from enum import StrEnum


class LegType(StrEnum):
    ASSET_DELIVERY = "asset_delivery"
    PAYMENT = "payment"

    def __str__(self) -> str:
        return str(self.value)
