"""Autotest of a Deep Potential for LLZO, in dpgen autotest's layout.

``dpgen-llzo autotest make|run|post PARAM [MACHINE]`` relaxes every conf with dpgen's own
relaxation (and the teacher), then computes the properties of :data:`AUTOTEST_PROPERTIES`:
dpgen's ``eos`` and ``elastic`` (delegated to ``dpgen.auto_test``) and ours, ``lattice_T``
(NPT lattice parameters vs temperature) and ``rdf`` (partial RDFs, DP vs reference). ``post``
writes a report comparing DP, reference and experiment. Jobs go through dpdispatcher with the
machine.json (local shell by default)::

    from dpgen_llzo.autotest import load_autotest_param, make, run, post
    param = load_autotest_param("param/autotest/quick.json")
    make(param); run(param, "machine/local.json"); report = post(param)

A new property is a subclass of :class:`AutotestProperty` decorated with
``@register_property("name", summary=...)``; the param schema picks it up from the registry.
"""

from dpgen_llzo.autotest.properties import (
    AUTOTEST_PROPERTIES,
    AutotestProperty,
    DpgenProperty,
    PendingTask,
    register_property,
)
from dpgen_llzo.autotest import lattice_t as _lattice_t  # noqa: F401,E402  (registers lattice_T)
from dpgen_llzo.autotest import rdf as _rdf  # noqa: F401,E402  (registers rdf)
from dpgen_llzo.autotest.param import AutotestParam, autotest_arginfo, load_autotest_param  # noqa: E402
from dpgen_llzo.autotest.workflow import make, post, run  # noqa: E402

__all__ = [
    "AUTOTEST_PROPERTIES", "AutotestParam", "AutotestProperty", "DpgenProperty", "PendingTask",
    "autotest_arginfo", "load_autotest_param", "make", "post", "register_property", "run",
]
