"""``python -m clm`` runs the command line."""

from clm.cli import main

main()
