"""Child-process harness of ``test_kill_resume.py``: run a DP-GEN loop and SIGKILL it inside a step.

Usage::

    python kill_harness.py {dpgen,dpgen-llzo} PARAM MACHINE [--kill-in FUNC] [--when after|before] [--poll S]

``dpgen`` runs stock ``dpgen run PARAM MACHINE`` (``dpgen.main.main``),
``dpgen-llzo`` runs ``dpgen-llzo run PARAM MACHINE`` (``dpgen_llzo.loop.runner.run_loop``), in
the current directory. Both look DP-GEN's step functions up in ``dpgen.generator.run`` when
they call them, so replacing a module attribute here (in this child only) reaches them:

``--kill-in FUNC``
    wrap ``dpgen.generator.run.FUNC`` so that the process SIGKILLs itself ``after`` the
    original returned (the step's work is done, ``record.dpgen`` not yet written: the worst
    case for a resume) or ``before`` it is called (with a function a step calls half-way,
    e.g. ``make_fp_calculation``, a kill in the middle of the step).
``--poll S``
    dpdispatcher's status polling interval (DP-GEN uses the default, 30 s), to keep the test
    short; nothing else in the submission changes (its hash does not depend on it).

Without ``--kill-in`` the loop runs until it ends or the test kills its process group.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys


def _kill_self() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install_kill(function: str, when: str) -> None:
    from dpgen.generator import run as dpgen_run

    original = getattr(dpgen_run, function)

    def wrapped(*args, **kwargs):
        if when == "before":
            print(f"kill_harness: SIGKILL before {function}", flush=True)
            _kill_self()
        result = original(*args, **kwargs)
        print(f"kill_harness: SIGKILL after {function}", flush=True)
        _kill_self()
        return result  # not reached

    setattr(dpgen_run, function, wrapped)


def install_poll(seconds: float) -> None:
    from dpdispatcher.submission import Submission

    original = Submission.run_submission

    def run_submission(self, **kwargs):
        kwargs.setdefault("check_interval", seconds)
        return original(self, **kwargs)

    Submission.run_submission = run_submission


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("driver", choices=("dpgen", "dpgen-llzo"))
    parser.add_argument("param")
    parser.add_argument("machine")
    parser.add_argument("--kill-in", metavar="FUNC")
    parser.add_argument("--when", choices=("after", "before"), default="after")
    parser.add_argument("--poll", type=float)
    args = parser.parse_args(argv)
    if args.poll:
        install_poll(args.poll)
    if args.kill_in:
        install_kill(args.kill_in, args.when)
    if args.driver == "dpgen":
        from dpgen.main import main as dpgen_main

        sys.argv = ["dpgen", "run", args.param, args.machine]  # exactly `dpgen run PARAM MACHINE`
        dpgen_main()
        return 0
    from dpgen_llzo.cli import main as llzo_main

    return llzo_main(["run", args.param, args.machine])


if __name__ == "__main__":
    sys.exit(main())
