"""The benchmarks: each script runs on its own (``python benchmarks/densify.py ...``); ``python -m
benchmarks --all`` runs them all and writes ``benchmarks/README.md`` (see ``__main__.py``)."""
