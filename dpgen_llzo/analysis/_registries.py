"""The two tables the ``analyze`` CLI lists: trajectory readers and analyses.

``READERS`` maps a format name (``lammps-dump``, ``extxyz``, ``vasp-xdatcar``, ``deepmd-npy``)
to a reader object; ``ANALYSES`` maps an analysis name (``diffusion``, ``rdf``, ...) to the
analyzer (class or function) that answers it. Modules register themselves on import.
"""

from __future__ import annotations

from typing import Any

from dpgen_llzo.registry import Registry

READERS: Registry[Any] = Registry("trajectory format")
ANALYSES: Registry[Any] = Registry("analysis")
