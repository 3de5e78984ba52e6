"""All models, imported here so that metadata (and Alembic) sees every table."""
from app.models.alert import ManagerAlert
from app.models.client import FUNNEL_STAGES, Client, ClientChange, VkSubscription
from app.models.dialog import Dialog, Message, Turn
from app.models.event import AppState, ProcessedEvent
from app.models.offer import IssuedOffer, OfferDecisionLog
from app.models.payment import PaymentEvent, PaymentLink
from app.models.purchase import Purchase, UnmatchedOrder
from app.models.reminder import Reminder
from app.models.security import AdminSession, LoginFailure
from app.models.states import (
                               AccessState,
                               FunnelStage,
                               OfferState,
                               OrderCheck,
                               PaymentStatus,
                               ReminderStatus,
                               TurnFlag,
                               TurnKind,
                               TurnStatus,
                               VkPermission,
)
from app.models.vk_budget import VkRateBudget

__all__ = [
    "FUNNEL_STAGES", "AppState", "Client", "ClientChange", "Dialog", "IssuedOffer",
    "ManagerAlert", "Message", "OfferDecisionLog", "ProcessedEvent", "Purchase", "Reminder",
    "Turn", "FunnelStage", "OfferState", "ReminderStatus", "TurnFlag", "TurnKind", "TurnStatus",
    "UnmatchedOrder", "AdminSession", "LoginFailure", "OrderCheck",
    "AccessState", "PaymentEvent", "PaymentLink", "PaymentStatus", "VkRateBudget",
    "VkPermission", "VkSubscription",
]
