"""The command line: every command has --help, and listing commands stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dpgen_llzo.cli import build_parser, main


def all_command_paths(parser, prefix=()):
    """Every sub-command path of an argparse parser, e.g. ('analyze', 'diffusion')."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from all_command_paths(sub, (*prefix, name))


COMMANDS = sorted(set(all_command_paths(build_parser())))


def test_the_documented_commands_exist():
    for command in [("structures", "list"), ("structures", "build"), ("label",), ("init",), ("demo",), ("coverage",)]:
        assert command in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: dpgen-llzo" in capsys.readouterr().out


def test_help_imports_no_heavy_framework():
    code = "import sys; from dpgen_llzo.cli import build_parser; build_parser(); print(sorted(m for m in ('torch', 'tensorflow', 'chgnet', 'deepmd', 'dpgen') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
