"""Readable run names such as ``brave-otter-42``: easier to say aloud than a UUID."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring", "eager",
    "fancy", "fierce", "gentle", "glad", "golden", "grand", "happy", "hidden", "honest", "jolly",
    "keen", "lively", "lucky", "mellow", "mighty", "misty", "noble", "quiet", "rapid", "rustic",
    "silent", "silver", "smooth", "snowy", "solar", "steady", "stormy", "sunny", "swift", "tidy",
    "vivid", "warm", "wild", "wise", "witty", "young", "zesty", "polar", "lunar", "velvet",
)
_NOUNS = (
    "badger", "beacon", "brook", "canyon", "cedar", "comet", "coral", "crane", "delta", "dune",
    "falcon", "fern", "fjord", "forest", "glacier", "harbor", "heron", "island", "lagoon", "lark",
    "maple", "meadow", "mesa", "moose", "nebula", "oak", "orbit", "otter", "owl", "panda",
    "pebble", "pine", "prairie", "quartz", "raven", "reef", "ridge", "river", "robin", "sage",
    "spruce", "summit", "tiger", "tundra", "valley", "willow", "wolf", "yak", "zephyr", "cairn",
)


def generate_run_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(100)}"
