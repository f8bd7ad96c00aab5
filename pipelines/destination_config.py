"""Resolves a destination's partial configuration once per pipeline instead of on every lookup.

dlt asks the destination factory for its capabilities about 15 times in a run (at each step,
for each schema and storage it opens), and each time resolves the destination's configuration
from every provider (environment, TOML files, each section) only to read a few fields such as
the naming convention's case sensitivity: 10-20 ms apiece, 0.1-0.2 s of a scheduled run that
spends about a second in all. Within one pipeline instance those lookups always see the same
providers and the same factory arguments, so the first result serves them all; a change of
the factory's arguments (dlt sets `credentials` there when a step is given some) resolves
again. Full resolutions, the ones that open a client with credentials, still happen each time.
"""

from __future__ import annotations

from typing import Any

from dlt.common.destination import Destination, TDestinationReferenceArg
from dlt.common.destination.client import DestinationClientConfiguration


def resolving_partial_configuration_once(
    reference: TDestinationReferenceArg,
) -> Destination[Any, Any]:
    """The destination factory for `reference`, whose partial resolutions are memoised."""
    destination = Destination.from_reference(reference)
    if destination is None:  # only for a None reference, which the runner never passes
        raise ValueError("a destination is required")
    resolve = destination.configuration
    resolved: dict[str, DestinationClientConfiguration] = {}

    def configuration(
        initial_config: DestinationClientConfiguration, accept_partial: bool = False
    ) -> Any:
        if not accept_partial:
            return resolve(initial_config, accept_partial=False)
        key = repr(sorted(destination.config_params.items()))
        if key not in resolved:
            resolved[key] = resolve(initial_config, accept_partial=True)
        return resolved[key]

    destination.configuration = configuration  # type: ignore[method-assign]
    return destination
