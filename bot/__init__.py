"""Helpdesk OTP bot: releases OATH-TOTP codes to verified helpdesk agents in Microsoft Teams."""

__version__ = "0.1.0"
