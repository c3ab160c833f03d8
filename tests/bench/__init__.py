"""`make bench` (python -m tests.bench): throughput, latency, cold start, RSS and Key Vault reads of the bot,
against the stock botbuilder echo pattern and a raw aiohttp probe. See docs/performance.md."""
