"""Efficiency recipes measured side by side: ``wattwise.optimize``.

Modules: ``task`` (what the user gives), ``recipes`` (what is done to the model),
``shrink`` (structured channel pruning), ``facts`` (what a model is, read off it),
``metrics`` (accuracy, calibration, noise), ``measure`` (inference energy), ``study``
(the run), ``result`` (what comes back), ``show`` (terminal and HTML), ``digits`` (the
bundled task). PyTorch is imported only when a recipe or a measurement runs.
"""
