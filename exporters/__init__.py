"""File and hardware formats for :class:`eventcode.Events` (one module per format).

This package depends on ``eventcode``, never the reverse.
"""
