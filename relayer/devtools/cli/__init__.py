"""The developer commands `dari devnet|bench|demo`, registered as plug-ins of the ``dari.commands``
entry-point group (pyproject.toml), so the command line itself never imports the developer tools."""
