"""The conversation lab: scenario dialogs played through the real pipeline, judged, compared.

`flask --app app eval run SCENARIOS.jsonl` and `flask --app app eval compare A B` (cli.py)."""
