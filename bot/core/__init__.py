"""The domain core. Standard library and pyotp only: no aiohttp, botbuilder or azure imports."""
