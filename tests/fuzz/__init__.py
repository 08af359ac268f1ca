"""Coverage-guided fuzzing of every file reader of :mod:`exporters` (issue 19, item 1).

- :mod:`.targets`: the readers fuzzed (one per registered format, EVT split into 2.0 and 3.0) and,
  as data, the bytes each one checks (magic, lengths, checksums, counts);
- :mod:`.sandbox`: one input in a forked worker with an address-space and a wall-time limit, and
  the outcome classes it ends in;
- :mod:`.mutations`: the mutations shared by the campaign and the CI pass;
- :mod:`.engine`: the coverage-guided campaign and its table of outcomes;
- :mod:`.corpus`: builds the seed corpus under ``tests/fuzz/corpus/``.

``python -m tests.fuzz --format all --seconds 60`` runs the campaign; ``tests/fuzz/test_fuzz.py``
is the short deterministic pass CI runs. See ``tests/fuzz/README.md``.
"""
