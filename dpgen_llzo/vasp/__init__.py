"""VASP for the production bundle: what goes in, what comes out.

* :mod:`.inputs`: the documented INCAR input set (:data:`INPUT_SET`), its formatting and checks;
* :mod:`.potcar`: PAW datasets per element, POTCAR headers, POTCAR assembly;
* :mod:`.bundle`: the VASP checks of a ``fp_style: "vasp"`` param.json;
* :mod:`.outputs`: OUTCARs read with dpdata's ``vasp/outcar`` reader (DP-GEN's), SCF convergence;
* :mod:`.calculator`: an ASE calculator running one VASP single point (the ``vasp`` labeler's),
  imported on its own (it needs ASE)::

    from dpgen_llzo.vasp import build_incar, format_incar, outcar_failure
    text = format_incar(build_incar())          # the text of templates/vasp/INCAR
    outcar_failure("OUTCAR")                    # None, or why the run gives no label
"""

from __future__ import annotations

from dpgen_llzo.vasp.bundle import check_vasp_bundle
from dpgen_llzo.vasp.inputs import (
    INCAR_HEADER,
    INPUT_SET,
    OFF_FUNCTIONAL_TAGS,
    IncarTag,
    build_incar,
    check_incar,
    format_incar,
    format_value,
    incar_reasons,
    read_incar,
)
from dpgen_llzo.vasp.outputs import NO_IONIC_STEP, OutcarSteps, UnreadableOutcar, outcar_failure, read_outcar
from dpgen_llzo.vasp.potcar import (
    POTCAR_VARIANTS,
    PotcarHeader,
    assemble_potcar,
    check_potcar_file,
    dataset_of_pp_file,
    default_potcar_variants,
    element_of_dataset,
    potcar_file,
    read_potcar_header,
)

__all__ = [
    "INCAR_HEADER",
    "INPUT_SET",
    "IncarTag",
    "NO_IONIC_STEP",
    "OFF_FUNCTIONAL_TAGS",
    "OutcarSteps",
    "POTCAR_VARIANTS",
    "PotcarHeader",
    "UnreadableOutcar",
    "assemble_potcar",
    "build_incar",
    "check_incar",
    "check_potcar_file",
    "check_vasp_bundle",
    "dataset_of_pp_file",
    "default_potcar_variants",
    "element_of_dataset",
    "format_incar",
    "format_value",
    "incar_reasons",
    "outcar_failure",
    "potcar_file",
    "read_incar",
    "read_outcar",
    "read_potcar_header",
]
