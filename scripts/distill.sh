#!/usr/bin/env bash
# The distillation bundle end to end (issue #12): LLZO from crystal to models/<name>/.
#   scripts/distill.sh [WORKDIR] [NAME]        (defaults: distill-work, llzo-diep-se2a)
# 1. dpgen-llzo init     teacher (DIEP) labels of the initial data + the ZBL table
# 2. dpgen-llzo run      the DP-GEN loop: bulk NVT/NPT 300-1600 K, 2 GPa, a 3000 K melt, then the GB stage with carving
# 3. distill final       two students trained long on every labelled frame (from the last iteration's models)
# 4. distill stability   NPT 1600 K: 192-atom cubic cell and both GB cells, collapse check
# 5. distill report      held-out errors per class against the teacher, E-V, dimers, 0 K cells -> models/NAME/
# Environment: FINAL_STEPS (default 10000), BULK_PS (50), GB_PS (10). Everything resumes when rerun.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-distill-work}
NAME=${2:-llzo-diep-se2a}
PARAM=$ROOT/param/distill/param.json
MACHINE=$ROOT/machine/local-distill.json
OUT=$ROOT/models/$NAME
mkdir -p "$WORK" && cd "$WORK"
start=$(date +%s)
[ -f .distill-start ] && start=$(cat .distill-start) || echo "$start" > .distill-start
dpgen-llzo init "$PARAM" "$MACHINE"
dpgen-llzo run "$PARAM" "$MACHINE"
dpgen-llzo distill final "$PARAM" "$MACHINE" --steps "${FINAL_STEPS:-10000}" --models 2
mkdir -p "$OUT"
cp final/000/graph.pb "$OUT/graph.pb"
cp final/001/graph.pb "$OUT/committee-1.pb"
# stability (one core) beside the report (the other)
dpgen-llzo distill stability final/000/graph.pb -o "$OUT" --bulk-ps "${BULK_PS:-50}" --gb-ps "${GB_PS:-10}" > stability.log 2>&1 &
dpgen-llzo distill report "$PARAM" --model final/000/graph.pb -o "$OUT" --name "$NAME" --workdir . \
    --command "scripts/distill.sh $WORK $NAME" --subset "$ROOT/tests/data/heldout-$NAME"
wait || true
dpgen-llzo distill report "$PARAM" --model final/000/graph.pb -o "$OUT" --refresh --wall-min $(( ($(date +%s) - start) / 60 ))
