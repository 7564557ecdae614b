"""Import every built-in study section so that it registers itself in :data:`.section.STUDY_SECTIONS`."""

from dpgen_llzo.study import bulk, gb, structure, transition, trust  # noqa: F401
