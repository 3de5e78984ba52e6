"""The staff panel: a server-rendered Flask blueprint under /admin (see views.py)."""
