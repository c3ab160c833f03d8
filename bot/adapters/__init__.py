"""The only code that does I/O. Each module implements a port from bot.core.ports."""
