"""``python -m wattwise`` is the ``wattwise`` command."""

from wattwise.cli import main

main()
