"""``python -m detente.cli``."""

from . import run

run()
