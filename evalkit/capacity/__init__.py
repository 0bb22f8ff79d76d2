"""Capacity of a model at its real shape with random weights (issue 23): build time, parameters, memory,
time to first token, tokens per second and seconds per story, measured where it is quick enough and
estimated from layer prefixes where it is not. Entry points: ``measure_capacity`` (engine),
``evalkit capacity MODEL...`` (the command line), records in ``evalkit.records.capacity``; the training projection (`evalkit finetune --random-weights`) in ``capacity.training``;
``capacity.stage``: the stage of `evalkit compare --random-weights` (each model in its own process, its
projection found for the Training Time row).
Import submodules directly: this package stays light."""
