"""Contains all the data models used in inputs/outputs"""

from .attempt import Attempt
from .attestation import Attestation
from .check_outcome import CheckOutcome
from .closing_side import ClosingSide
from .closing_terms import ClosingTerms
from .decision_request import DecisionRequest
from .delivery import Delivery
from .delivery_payload import DeliveryPayload
from .delivery_status import DeliveryStatus
from .deposit_authorization import DepositAuthorization
from .deposit_instruction import DepositInstruction
from .direction import Direction
from .endpoint import Endpoint
from .endpoint_request import EndpointRequest
from .endpoint_with_secret import EndpointWithSecret
from .error_body import ErrorBody
from .event_view import EventView
from .field_error import FieldError
from .instruction_request import InstructionRequest
from .instruction_status import InstructionStatus
from .instruction_view import InstructionView
from .leg_input import LegInput
from .leg_spec import LegSpec
from .leg_type import LegType
from .manual_decision import ManualDecision
from .match_view import MatchView
from .message_kind import MessageKind
from .observed_deposit import ObservedDeposit
from .owed_view import OwedView
from .packet_path import PacketPath
from .packet_status import PacketStatus
from .packet_view import PacketView
from .paginated_delivery import PaginatedDelivery
from .paginated_delivery_items_item import PaginatedDeliveryItemsItem
from .paginated_delivery_items_item_payload import PaginatedDeliveryItemsItemPayload
from .paginated_deposit_instruction import PaginatedDepositInstruction
from .paginated_deposit_instruction_items_item import (
    PaginatedDepositInstructionItemsItem,
)
from .paginated_endpoint import PaginatedEndpoint
from .paginated_endpoint_items_item import PaginatedEndpointItemsItem
from .paginated_event_view import PaginatedEventView
from .paginated_event_view_items_item import PaginatedEventViewItemsItem
from .paginated_instruction_view import PaginatedInstructionView
from .paginated_instruction_view_items_item import PaginatedInstructionViewItemsItem
from .paginated_packet_view import PaginatedPacketView
from .paginated_packet_view_items_item import PaginatedPacketViewItemsItem
from .paginated_settlement_delivery import PaginatedSettlementDelivery
from .paginated_settlement_delivery_items_item import (
    PaginatedSettlementDeliveryItemsItem,
)
from .paginated_settlement_view import PaginatedSettlementView
from .paginated_settlement_view_items_item import PaginatedSettlementViewItemsItem
from .paginated_settlement_view_items_item_compliance_type_0 import (
    PaginatedSettlementViewItemsItemComplianceType0,
)
from .paginated_settlement_view_items_item_evidence_type_0 import (
    PaginatedSettlementViewItemsItemEvidenceType0,
)
from .paginated_settlement_view_items_item_terms_type_0 import (
    PaginatedSettlementViewItemsItemTermsType0,
)
from .paginated_stuck_settlement import PaginatedStuckSettlement
from .paginated_stuck_settlement_items_item import PaginatedStuckSettlementItemsItem
from .paginated_template import PaginatedTemplate
from .paginated_template_items_item import PaginatedTemplateItemsItem
from .paginated_template_items_item_transitions_item_item_type_0 import (
    PaginatedTemplateItemsItemTransitionsItemItemType0,
)
from .paginated_template_items_item_transitions_item_item_type_1 import (
    PaginatedTemplateItemsItemTransitionsItemItemType1,
)
from .paginated_verifier_health import PaginatedVerifierHealth
from .paginated_verifier_health_items_item import PaginatedVerifierHealthItemsItem
from .paginated_verifier_health_items_item_detail import (
    PaginatedVerifierHealthItemsItemDetail,
)
from .party import Party
from .party_view import PartyView
from .recover_request import RecoverRequest
from .recover_response import RecoverResponse
from .repo_spec import RepoSpec
from .repo_status import RepoStatus
from .repo_view import RepoView
from .role import Role
from .role_legs import RoleLegs
from .settlement_delivery import SettlementDelivery
from .settlement_state import SettlementState
from .settlement_view import SettlementView
from .settlement_view_compliance_type_0 import SettlementViewComplianceType0
from .settlement_view_evidence_type_0 import SettlementViewEvidenceType0
from .settlement_view_terms_type_0 import SettlementViewTermsType0
from .stuck_settlement import StuckSettlement
from .template import Template
from .template_transitions_item_item_type_0 import TemplateTransitionsItemItemType0
from .template_transitions_item_item_type_1 import TemplateTransitionsItemItemType1
from .verifier_health import VerifierHealth
from .verifier_health_detail import VerifierHealthDetail
from .verify_request import VerifyRequest
from .verify_request_bundle import VerifyRequestBundle
from .verify_result import VerifyResult

__all__ = (
    "Attempt",
    "Attestation",
    "CheckOutcome",
    "ClosingSide",
    "ClosingTerms",
    "DecisionRequest",
    "Delivery",
    "DeliveryPayload",
    "DeliveryStatus",
    "DepositAuthorization",
    "DepositInstruction",
    "Direction",
    "Endpoint",
    "EndpointRequest",
    "EndpointWithSecret",
    "ErrorBody",
    "EventView",
    "FieldError",
    "InstructionRequest",
    "InstructionStatus",
    "InstructionView",
    "LegInput",
    "LegSpec",
    "LegType",
    "ManualDecision",
    "MatchView",
    "MessageKind",
    "ObservedDeposit",
    "OwedView",
    "PacketPath",
    "PacketStatus",
    "PacketView",
    "PaginatedDelivery",
    "PaginatedDeliveryItemsItem",
    "PaginatedDeliveryItemsItemPayload",
    "PaginatedDepositInstruction",
    "PaginatedDepositInstructionItemsItem",
    "PaginatedEndpoint",
    "PaginatedEndpointItemsItem",
    "PaginatedEventView",
    "PaginatedEventViewItemsItem",
    "PaginatedInstructionView",
    "PaginatedInstructionViewItemsItem",
    "PaginatedPacketView",
    "PaginatedPacketViewItemsItem",
    "PaginatedSettlementDelivery",
    "PaginatedSettlementDeliveryItemsItem",
    "PaginatedSettlementView",
    "PaginatedSettlementViewItemsItem",
    "PaginatedSettlementViewItemsItemComplianceType0",
    "PaginatedSettlementViewItemsItemEvidenceType0",
    "PaginatedSettlementViewItemsItemTermsType0",
    "PaginatedStuckSettlement",
    "PaginatedStuckSettlementItemsItem",
    "PaginatedTemplate",
    "PaginatedTemplateItemsItem",
    "PaginatedTemplateItemsItemTransitionsItemItemType0",
    "PaginatedTemplateItemsItemTransitionsItemItemType1",
    "PaginatedVerifierHealth",
    "PaginatedVerifierHealthItemsItem",
    "PaginatedVerifierHealthItemsItemDetail",
    "Party",
    "PartyView",
    "RecoverRequest",
    "RecoverResponse",
    "RepoSpec",
    "RepoStatus",
    "RepoView",
    "Role",
    "RoleLegs",
    "SettlementDelivery",
    "SettlementState",
    "SettlementView",
    "SettlementViewComplianceType0",
    "SettlementViewEvidenceType0",
    "SettlementViewTermsType0",
    "StuckSettlement",
    "Template",
    "TemplateTransitionsItemItemType0",
    "TemplateTransitionsItemItemType1",
    "VerifierHealth",
    "VerifierHealthDetail",
    "VerifyRequest",
    "VerifyRequestBundle",
    "VerifyResult",
)
