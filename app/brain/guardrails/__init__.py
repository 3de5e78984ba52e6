"""Checks of a reply before it is sent: leaks, money facts, discounts against the policy."""
from app.brain.guardrails.check import FALLBACK_REPLY, check_reply, check_reply_details
from app.brain.guardrails.facts import mention_regex

__all__ = ["FALLBACK_REPLY", "check_reply", "check_reply_details", "mention_regex"]
