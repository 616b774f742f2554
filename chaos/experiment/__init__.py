"""Experiments as data: steady state -> method -> rollbacks -> journal."""

from chaos.experiment.model import Experiment, ensure_experiment, load_experiment
from chaos.experiment.runner import run_experiment

__all__ = ["Experiment", "ensure_experiment", "load_experiment", "run_experiment"]
