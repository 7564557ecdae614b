"""The ``ase`` labeler: any ASE calculator, named by import path, with keyword arguments.

``calculator="ase.calculators.emt:EMT"`` (or the dotted ``ase.calculators.emt.EMT``) names a
class, or any callable that returns a calculator (``mace.calculators:mace_mp``); ``kwargs`` are
passed to it (a dict, or a JSON object as text: ``'{"sigma": 2.0}'``). The frames it labels
go through the same screen as every other labeler (pairs closer than their physical minimum are
never evaluated; non-finite labels and forces above the limit reject the frame), in
:mod:`dpgen_llzo.labelers.labelling`.

The calculator must give energy (eV) and forces (eV/Å), and stress (eV/Å³, ASE's sign) for
periodic frames: DeePMD virials are ``-V * stress``.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Callable

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.labelers.base import LABELERS, Labeler


def parse_calculator_kwargs(value: Any, what: str = "calculator kwargs") -> dict[str, Any]:
    """The keyword arguments of an ASE calculator: a dict, a JSON object as text, or empty.

    Raises
    ------
    UserInputError
        If ``value`` is not JSON or not an object.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise UserInputError(f"{what}: not valid JSON ({exc.msg} at column {exc.colno}): {value!r}") from None
    if not isinstance(value, dict):
        raise UserInputError(f"{what}: expected a JSON object such as {{\"sigma\": 2.0}}, got {type(value).__name__}")
    return dict(value)


def resolve_calculator(path: str) -> Callable[..., Any]:
    """Import the calculator class (or factory) named ``module:attribute`` or ``module.attribute``.

    Parameters
    ----------
    path
        Import path, e.g. ``ase.calculators.emt:EMT``; nested attributes after the colon are
        allowed (``pkg.mod:Outer.Inner``).

    Raises
    ------
    UserInputError
        One line when the path is empty or malformed, the module cannot be imported, it lacks the
        attribute, or the attribute is not callable.
    """
    path = (path or "").strip()
    if not path:
        raise UserInputError("labeler 'ase' needs calculator=MODULE:CLASS (dpgen-llzo label --calculator ase.calculators.emt:EMT)")
    if ":" in path:
        module_name, _, attribute = path.partition(":")
    else:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise UserInputError(f"calculator {path!r}: expected MODULE:CLASS, e.g. ase.calculators.emt:EMT")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raises while importing
        raise UserInputError(f"calculator {path!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    for name in attribute.split("."):
        if not hasattr(obj, name):
            raise UserInputError(f"calculator {path!r}: module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, name)
    if not callable(obj):
        raise UserInputError(f"calculator {path!r}: {attribute!r} is not a class or function")
    return obj


def make_ase_calculator(path: str, kwargs: Any = None):
    """Build the ASE calculator ``path(**kwargs)`` and check that it can label atoms.

    Raises
    ------
    UserInputError
        If the path does not resolve, the keyword arguments are refused, or the object built
        has no ``get_potential_energy``/``get_forces``.
    """
    factory = resolve_calculator(path)
    kwargs = parse_calculator_kwargs(kwargs)
    try:
        calculator = factory(**kwargs)
    except Exception as exc:  # a TypeError for an unknown keyword, a missing model file ...
        raise UserInputError(f"calculator {path!r} with kwargs {json.dumps(kwargs)}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    from ase import Atoms

    if isinstance(calculator, Atoms) or not all(callable(getattr(calculator, name, None)) for name in ("get_potential_energy", "get_forces")):
        raise UserInputError(f"calculator {path!r} returned {type(calculator).__name__}, not an ASE calculator")
    return calculator


@LABELERS.register("ase", summary="any ASE calculator by import path (options calculator=MODULE:CLASS, kwargs=JSON)")
class ASELabeler(Labeler):
    """An arbitrary ASE calculator as the teacher.

    Options
    -------
    calculator : str
        Import path ``module:Class`` (or ``module.Class``) of a calculator class or factory
        (required).
    kwargs : dict or str
        Keyword arguments of the calculator, a dict or a JSON object as text (default none).
    device : str
        Ignored (pass a device through ``kwargs`` if the calculator takes one).
    """

    name = "ase"

    def __init__(self, **options: Any) -> None:
        if options.get("model"):
            raise UserInputError("labeler 'ase' takes calculator=MODULE:CLASS and kwargs, not model (put a model path in kwargs)")
        options["kwargs"] = parse_calculator_kwargs(options.get("kwargs"))
        super().__init__(**options)

    def check(self) -> None:
        """Resolve the import path now (a bad path fails before any task is written)."""
        resolve_calculator(self.options.get("calculator", ""))

    def _make_calculator(self):
        return make_ase_calculator(self.options.get("calculator", ""), self.options["kwargs"])

    def describe(self) -> dict[str, Any]:
        import ase

        return {"labeler": self.name, "ase_version": ase.__version__,
                "calculator": self.options.get("calculator", ""), "kwargs": self.options["kwargs"]}
