"""``dpgen-llzo run``: DP-GEN's active-learning loop with a PCA-coverage stop.

>>> from dpgen_llzo.loop import run_loop
>>> outcome = run_loop("param.json", "machine.json", workdir="work")  # doctest: +SKIP

:mod:`.runner` mirrors ``dpgen.generator.run.run_iter`` with DP-GEN's own step functions and
``record.dpgen``; :mod:`.exploration` counts candidate / accurate / failed frames;
:mod:`.augmentation` is the paper's error-driven augmentation.
"""

from dpgen_llzo.loop.record import STEP_NAMES, read_record
from dpgen_llzo.loop.runner import LoopOutcome, run_loop

__all__ = ["STEP_NAMES", "LoopOutcome", "read_record", "run_loop"]
