"""The command line, one file per concern: ``python -m deepfm_lite COMMAND`` (see ``--help``).

=============  ===============================================================================
``main``       the parser, the dispatch, and every error as one line (``main``)
``train``      ``train``: data, one model, its report
``files``      ``prepare`` and ``predict``: files too big for memory
``csv_input``  a user's CSV, its header, labels and numbers checked
``arguments``  argument types and the checks made before any data is read
``errors``     the errors that reach the user as one line
=============  ===============================================================================
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
