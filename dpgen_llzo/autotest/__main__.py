"""``python -m dpgen_llzo.autotest STEP …``: the ``dpgen-llzo autotest`` commands on their own.

Task commands shipped by dpdispatcher use this form (``python -m dpgen_llzo.autotest
reference-task .``), so they need only the package, not a particular console script.
"""

import sys

from dpgen_llzo import cli


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` as ``dpgen-llzo autotest …`` and run it (exit code 2 on bad input)."""
    argv = sys.argv[1:] if argv is None else argv
    saved = cli.COMMAND_MODULES
    if "dpgen_llzo.autotest.cli" not in saved:
        cli.COMMAND_MODULES = (*saved, "dpgen_llzo.autotest.cli")
    try:
        return cli.main(["autotest", *argv])
    finally:
        cli.COMMAND_MODULES = saved


if __name__ == "__main__":
    sys.exit(main())
