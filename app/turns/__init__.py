"""The job side: durable claims on due dialogs and reminders (`Claims`), and `TurnRunner`, which
runs one turn (context → brain → effects → outbound channel) and fires due reminders as
proactive turns. The runtime's threads are handed `TurnRunner.process` and `fire_due`."""
from app.turns.claims import Claim, Claims
from app.turns.runner import TurnRunner

__all__ = ["Claim", "Claims", "TurnRunner"]
