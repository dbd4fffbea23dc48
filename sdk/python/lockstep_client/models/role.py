from enum import StrEnum


class Role(StrEnum):
    BUYER = "buyer"
    FX_PROVIDER = "fx_provider"
    SELLER = "seller"

    def __str__(self) -> str:
        return str(self.value)
