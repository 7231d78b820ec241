"""``python -m deepfm_lite``: the command line (deepfm_lite/cli/)."""

import sys

from .cli import main

code = main()
distributed = sys.modules.get("deepfm_lite.training.distributed")  # imported by ``train`` only
if distributed is not None:
    distributed.exit_process(code)  # ends a torchrun process without the interpreter's teardown
sys.exit(code)
