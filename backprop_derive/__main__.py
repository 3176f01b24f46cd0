"""``python -m backprop_derive`` runs the command line."""

from .cli import main

main()
