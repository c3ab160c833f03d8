"""Bot Framework glue. Every botbuilder import lives in this folder (and bot/web.py, bot/adapters/sqlite.py)."""
