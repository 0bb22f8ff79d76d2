"""Capacity of a model at its real shape with random weights (issue 23): build time, parameters, memory,
time to first token, tokens per second and seconds per story, measured where it is quick enough and
estimated from layer prefixes where it is not. Entry points: ``measure_capacity`` (engine),
``python -m evalkit.capacity MODEL...`` (the command line), records in ``capacity.records``.
Import submodules directly: this package stays light."""
