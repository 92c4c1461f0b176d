"""Reading a claim's card out of a built study page."""
from __future__ import annotations

import re
from pathlib import Path


def card_figures(site: Path, link: str) -> list[str]:
    """The file names of the images in the card a ledger link ('study-x.html#C000-01') points to, in page order;
    each image must exist in the site."""
    page, _, claim_id = link.partition("#")
    card = re.search(rf"<section class='card[^']*' id='{re.escape(claim_id)}'>(.*?)</section>",
                     (site / page).read_text(encoding="utf-8"), re.S)
    assert card, f"{page} has no card for {claim_id}"
    sources = re.findall(r"<img src='([^']+)'", card.group(1))
    assert all((site / s).is_file() for s in sources), sources
    return [Path(s).name for s in sources]
