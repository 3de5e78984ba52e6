"""Checks of a reply before it is sent: leaks, money facts, discounts against the policy."""
from app.brain.guardrails.check import check_reply, check_reply_details

__all__ = ["check_reply", "check_reply_details"]
