"""The initial training set: LLZO cells, scaled/perturbed frames and teacher-MD snapshots.

:mod:`.plan` turns the ``_dpgen_llzo.init`` settings into labelling tasks, :mod:`.teacher_md`
runs short MD with the teacher through ASE, and :mod:`.runner` ships the tasks through
dpdispatcher with the machine file and collects them as DeePMD training systems.
"""
