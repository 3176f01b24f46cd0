"""The jobs built on solving and rendering: check, generate, derive, and writing files."""
