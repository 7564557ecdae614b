"""The committee of a study: every MODEL compressed (``dp compress``) into ``DIR/models/``.

``model_N.<suffix>`` is the compressed model N, or a copy of the original when ``dp compress``
failed or the plan says ``"compress": false``; ``DIR/models/models.json`` records the source,
whether it was compressed, the time it took and, on failure, DeePMD's reason. Compression
needs the model's smallest neighbour distance: a frozen TF model keeps it when its training
computed the neighbour statistics; otherwise the training ``input.json`` beside the model is
passed with ``-t`` (its data paths made absolute; DeePMD then recomputes the statistics over the
training data, minutes). The models compress side by side. A resumed study reuses ``models.json`` and
refuses other models.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

from dpgen_llzo.atomic_io import write_json_atomic
from dpgen_llzo.errors import UserInputError

log = logging.getLogger(__name__)


def _source_record(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"source": str(path), "size": stat.st_size, "mtime": int(stat.st_mtime)}


def training_script(model: Path) -> Path | None:
    """``input.json`` beside the model (or beside the file a link points to), if any."""
    for folder in dict.fromkeys([model.parent, model.resolve().parent]):
        candidate = folder / "input.json"
        if candidate.is_file():
            return candidate
    return None


def _absolute_script(script: Path, target: Path) -> Path:
    """Copy of a training input with its data system paths made absolute (it is read from elsewhere)."""
    data = json.loads(script.read_text())
    training = data.get("training", {})
    for key in ("training_data", "validation_data"):
        section = training.get(key)
        if isinstance(section, dict) and isinstance(section.get("systems"), list):
            section["systems"] = [s if os.path.isabs(s) else str((script.parent / s).resolve()) for s in section["systems"]]
    model = data.get("model", {})
    if isinstance(model.get("use_srtab"), str) and not os.path.isabs(model["use_srtab"]):
        model["use_srtab"] = str((script.parent / model["use_srtab"]).resolve())
    target.write_text(json.dumps(data, indent=1))
    return target


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("implib-gen")]
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line[:300]
    return lines[-1][:300] if lines else "dp compress failed without a message"


def has_neighbour_statistics(model: Path) -> bool:
    """Whether a frozen TF model stores ``train_attr/min_nbor_dist`` (then it compresses without ``-t``).

    The node name is plain text in the GraphDef; other model formats are assumed to have it.
    """
    if model.suffix != ".pb":
        return True
    needle, tail = b"train_attr/min_nbor_dist", b""
    with open(model, "rb") as handle:
        while chunk := handle.read(1 << 20):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle):]
    return False


def compress_command(source: Path, partial: Path, scratch: Path, script: Path | None = None) -> list[str]:
    """``dp compress`` argv: with ``-t input.json`` (data paths made absolute) when the model lacks the statistics.

    ``script`` is the training input to use; default the ``input.json`` beside the model.
    """
    argv = ["dp", "compress", "-i", str(source), "-o", str(partial)]  # its checkpoint folder lands in scratch
    script = script or training_script(source)
    if not has_neighbour_statistics(source) and script is not None:
        argv += ["-t", str(_absolute_script(script, scratch / "input.json"))]
    return argv


def compress_models(sources: Sequence[Path], targets: Sequence[Path], scratches: Sequence[Path],
                    script: Path | None = None) -> list[str | None]:
    """``dp compress`` every model side by side; the reason of each failure (None: compressed into its target)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = []
    for source, target, scratch in zip(sources, targets, scratches):
        scratch = scratch.absolute()  # dp runs inside it
        scratch.mkdir(parents=True, exist_ok=True)
        partial = scratch / f"compressed{target.suffix}"
        argv = compress_command(source, partial, scratch, script)
        procs.append((subprocess.Popen(argv, cwd=scratch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True), partial, target, "-t" in argv, source))
    reasons = []
    for proc, partial, target, with_script, source in procs:
        output, _ = proc.communicate()
        if proc.returncode == 0 and partial.is_file():
            os.replace(partial, target)
            reasons.append(None)
            continue
        reason = _reason(output)
        if not with_script and not has_neighbour_statistics(source):
            reason += (" (the model has no min_nbor_dist and no input.json lies beside it to pass with -t:"
                       " give its training input with --training-script)")
        reasons.append(reason)
    return reasons


def prepare_models(sources: Sequence[str | os.PathLike], models_dir: Path, compress: bool,
                   script: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Compress (or copy) every model into ``models_dir``; the records of ``models.json``.

    ``script``: the training ``input.json`` for models without neighbour statistics (default:
    the one beside each model, if any).

    Raises
    ------
    UserInputError
        A model file that does not exist, or a study directory started with other models.
    """
    paths = [Path(s).absolute() for s in sources]
    models_dir = models_dir.absolute()
    for given, path in zip(sources, paths):
        if not path.is_file():
            raise UserInputError(f"{given}: model file not found")
    record_path = models_dir / "models.json"
    wanted = [_source_record(p) for p in paths]
    if record_path.is_file():
        records = json.loads(record_path.read_text())
        if [{k: r[k] for k in ("source", "size", "mtime")} for r in records] != wanted:
            raise UserInputError(f"{record_path}: this study was started with other models "
                                 f"({', '.join(r['source'] for r in records)}); use another -o DIR")
        if all((models_dir / r["name"]).is_file() for r in records):
            return records
    models_dir.mkdir(parents=True, exist_ok=True)
    names = [f"model_{i}{p.suffix or '.pb'}" for i, p in enumerate(paths)]
    targets = [models_dir / name for name in names]
    scratches = [models_dir / f".compress_{i}" for i in range(len(paths))]
    started = time.monotonic()
    if script is not None and not Path(script).is_file():
        raise UserInputError(f"{script}: training script not found")
    script = Path(script).absolute() if script is not None else None
    reasons = compress_models(paths, targets, scratches, script) if compress else ["compress is off in the plan"] * len(paths)
    elapsed = round(time.monotonic() - started, 1)
    records = []
    for path, source, name, target, scratch, reason in zip(paths, wanted, names, targets, scratches, reasons):
        shutil.rmtree(scratch, ignore_errors=True)
        if reason is not None:
            if compress:
                log.warning("dp compress failed for %s: %s; using the uncompressed model", path, reason)
            tmp = target.with_name(f".{name}.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        records.append({**source, "name": name, "compressed": reason is None, "compress_error": reason,
                        "compress_s": elapsed if compress else 0.0})
    write_json_atomic(record_path, records)
    return records
