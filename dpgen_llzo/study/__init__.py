"""``dpgen-llzo study``: the seeds' questions in one command, from a DP committee to a report.

::

    dpgen-llzo study graph.000.pb graph.001.pb --plan quick -o study-quick
    dpgen-llzo study graph.00*.pb --plan production --machine machine/slurm.json -o study

A plan (:mod:`.plan`; ``param/study/{quick,standard,production}.json``) sets the sections
(registered in :data:`.section.STUDY_SECTIONS`): the t→c transition (:mod:`.transition`),
bulk transport (:mod:`.bulk`), grain-boundary transport (:mod:`.gb`), structure
(:mod:`.structure`) and trust (:mod:`.trust`). :func:`.runner.run_study` compresses the
models, writes the LAMMPS runs (:mod:`.tasks`), sends them through dpdispatcher
(:mod:`.dispatch`), resumes after a kill, analyses them with :mod:`dpgen_llzo.analysis`
(:mod:`.science`) and writes ``study.json``, ``study.md`` and the figures (:mod:`.report`).
"""

from dpgen_llzo.study.plan import check_plan, load_plan
from dpgen_llzo.study.runner import run_study
from dpgen_llzo.study.section import STUDY_SECTIONS

__all__ = ["STUDY_SECTIONS", "check_plan", "load_plan", "run_study"]
