"""The job side: durable claims on due dialogs and reminders, the worker pool, and the pipeline
that runs one turn (context → brain → effects → outbound channel)."""
