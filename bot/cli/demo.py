"""Demo data for local mode: a directory matching .m365agentsplayground.yml and four demo tokens.

The demo seeds are public test values; never use them for a real token.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ..core.errors import SeedNotFound
from ..core.models import Algorithm, Seed, TokenStatus, TotpParams

DIRECTORY_CSV = """upn,object_id,display_name,phone,manager_upn,enabled,landline
ada@contoso.example,00000000-0000-4000-8000-0000000000a1,Ada Agent,+44 7700 900101,lee@contoso.example,,
ben@contoso.example,00000000-0000-4000-8000-0000000000a2,Ben Agent,+44 7700 900102,lee@contoso.example,,
lee@contoso.example,00000000-0000-4000-8000-0000000000b1,Lee Lead,+44 7700 900103,,,
mia@contoso.example,00000000-0000-4000-8000-0000000000d1,Mia Manager,+44 7700 900104,,,
alice@contoso.example,00000000-0000-4000-8000-0000000000c1,Alice User,+44 7700 900958,mia@contoso.example,,
bob@contoso.example,00000000-0000-4000-8000-0000000000c2,Bob User,+1 425 555 0143,mia@contoso.example,,
carol@contoso.example,00000000-0000-4000-8000-0000000000c3,Carol Landline,,mia@contoso.example,,+44 20 7946 0959
dan@contoso.example,00000000-0000-4000-8000-0000000000c4,Dan Leaver,+44 7700 900111,mia@contoso.example,false,
"""

DEMO_SEEDS = (
    Seed("00000000-0000-4000-8000-0000000000c1", "alice@contoso.example", "JBSWY3DPEHPK3PXP"),
    Seed("00000000-0000-4000-8000-0000000000c2", "bob@contoso.example", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
         TotpParams(60, 8, Algorithm.SHA256), TokenStatus.SHIPPED, serial="DEMO-0002"),
    Seed("00000000-0000-4000-8000-0000000000c3", "carol@contoso.example", "KRSXG5CTMVRXEZLUKN2XAZLSKNSWC4TF"),
    Seed("00000000-0000-4000-8000-0000000000c4", "dan@contoso.example", "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U",
         status=TokenStatus.SHIPPED, serial="DEMO-0004"),  # a leaver: disabled in the directory
    Seed("00000000-0000-4000-8000-0000000000b1", "lee@contoso.example", "NRSWKLLEMVWW6LLUN5VWK3RNONSWKZBB",
         serial="DEMO-0005"),  # a lead: a privileged target
)


async def install_demo(data_dir: Path, store, state=None, now: datetime | None = None) -> list[str]:
    """Idempotent: writes what is missing, never overwrites. With `state`, each new demo token gets its lifecycle
    record and open-token index entry (burned now; the shipped ones shipped now), so `pending` lists it at once."""
    done = []
    directory = data_dir / "directory.csv"
    if not directory.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        directory.write_text(DIRECTORY_CSV, encoding="utf-8")
        done.append(f"wrote demo directory {directory}")
    for seed in DEMO_SEEDS:
        try:
            await store.get_seed(seed.object_id)
        except SeedNotFound:
            await store.put_seed(seed)
            if state is not None:
                await _record(state, seed, now or datetime.now(timezone.utc))
            done.append(f"enrolled demo token for {seed.upn}")
    return done


async def _record(state, seed: Seed, now: datetime) -> None:
    from ..handlers.token_records import index_changes, token_key

    record = {"upn": seed.upn, "status": seed.status.value, "burned_at": now.isoformat(), "source": "demo"}
    if seed.status is TokenStatus.SHIPPED:
        record["shipped_at"] = now.isoformat()
    index, _ = index_changes(seed.object_id, record)
    await state.write({token_key(seed.object_id): {**record, "e_tag": "*"}, **index})
