"""Checks of a reply before it is sent: leaks, money facts, discounts against the policy."""
from app.brain.guardrails.check import FALLBACK_REPLY, check_reply, check_reply_details

__all__ = ["FALLBACK_REPLY", "check_reply", "check_reply_details"]
