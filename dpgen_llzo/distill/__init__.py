"""Distillation of a teacher into a shippable student: final training, held-out validation, report.

``dpgen-llzo distill final`` trains the shipped student on every frame the loop labelled,
``dpgen-llzo distill report`` validates it against the teacher on frames it never saw and
writes ``models/<name>/``, ``dpgen-llzo distill stability`` runs long NPT MD to check that it
does not collapse. ``scripts/distill.sh`` chains them after ``init`` and the loop.
"""
