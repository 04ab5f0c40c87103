"""Framework integrations, each an optional extra imported only when used.

* :mod:`wattwise.integrations.lightning` — ``EnergyCallback`` for PyTorch Lightning;
* :mod:`wattwise.integrations.transformers` — ``EnergyCallback`` for the HF ``Trainer``;
* :mod:`wattwise.integrations.keras` — ``EnergyCallback`` for Keras 3.

Plain PyTorch loops need no integration: ``run.epochs()`` and ``run.step()`` on a
:class:`~wattwise.tracking.Tracker`. All of them drive one
:class:`~wattwise.training.TrainingSession`, so they count alike.
"""
