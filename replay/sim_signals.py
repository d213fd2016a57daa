"""The service-quality signals of the simulated city, drawn after the in-district
background and scenarios (so those stay what they were) and before the cross-district ones:
good/bad reviews (``replay.sim_reviews``), "one thing at a time" chains
(``replay.sim_chains``) and the digital divide (``replay.sim_divide``). Every signal stays
in one district.
"""

from __future__ import annotations

from replay.sim_chains import background_chains, inject_chain_overdue, inject_chain_stage_overdue
from replay.sim_core import Sim
from replay.sim_divide import background_online_failures, inject_digital_divide
from replay.sim_reviews import service_reviews

SIGNAL_SCENARIOS = (
    "bad_reviews_official",
    "bad_reviews_hall",
    "chain_stage_overdue",
    "chain_overdue",
    "digital_divide",
)


def service_signals(sim: Sim) -> None:
    """Background and scenarios of every signal; reviews last, so they rate every decision."""
    background_online_failures(sim)
    inject_digital_divide(sim)
    background_chains(sim)
    inject_chain_stage_overdue(sim)
    inject_chain_overdue(sim)
    service_reviews(sim)
