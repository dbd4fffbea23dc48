from enum import StrEnum


class PaginatedTemplateItemsItemTransitionsItemItemType1(StrEnum):
    AWAITING_DEPOSITS = "AWAITING_DEPOSITS"
    COMPLIANCE_CHECKING = "COMPLIANCE_CHECKING"
    COMPLIANCE_CLEARED = "COMPLIANCE_CLEARED"
    EXECUTING_SWAP = "EXECUTING_SWAP"
    FINALIZED = "FINALIZED"
    INSTRUCTED = "INSTRUCTED"
    ROLLED_BACK = "ROLLED_BACK"
    TIMED_OUT = "TIMED_OUT"

    def __str__(self) -> str:
        return str(self.value)
