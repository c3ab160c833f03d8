from ..core.commands import COMMANDS
from ..core.views import HelpCard
from .context import Services, Turn


async def show_help(services: Services, turn: Turn, command) -> list:
    return [HelpCard(COMMANDS)]
