"""One pure module per jurisdiction: ``JURISDICTION`` and ``decide(request, rules) -> Decision``."""
