"""The owner's numbers: read-only reports over the stored data (CLI `report`, the dashboard).

Every figure is aggregated in PostgreSQL; Python only shapes the few result rows (and groups
the knowledge-base gaps, which are few). Nothing here writes to the database.
"""
