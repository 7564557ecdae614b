"""The committee of a study: every MODEL compressed (``dp compress``) into ``DIR/models/``.

``model_N.<suffix>`` is the compressed model N, or a copy of the original when ``dp compress``
failed or the plan says ``"compress": false``; ``DIR/models/models.json`` records the source,
whether it was compressed, the time it took and, on failure, DeePMD's reason. Compression
needs the model's smallest neighbour distance: a frozen TF model keeps it when its training
computed the neighbour statistics; otherwise the training ``input.json`` beside the model is
passed with ``-t`` (its data paths made absolute). A resumed study reuses ``models.json`` and
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


def compress_model(source: Path, target: Path, scratch: Path) -> tuple[bool, str | None]:
    """``dp compress`` ``source`` into ``target``; retried with ``-t input.json`` when one is found.

    Returns (compressed, reason of the failure or None). ``target`` is only written on success.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    partial = scratch / f"compressed{target.suffix}"
    base = ["dp", "compress", "-i", str(source), "-o", str(partial), "-c", str(scratch / "checkpoint")]
    attempts = [base]
    script = training_script(source)
    if script is not None:
        attempts.append(base + ["-t", str(_absolute_script(script, scratch / "input.json"))])
    reason = None
    for argv in attempts:
        done = subprocess.run(argv, cwd=scratch, env=env, capture_output=True, text=True)
        if done.returncode == 0 and partial.is_file():
            os.replace(partial, target)
            return True, None
        reason = _reason(done.stderr + done.stdout)
    if script is None:
        reason = f"{reason} (no input.json beside the model to pass with -t)"
    return False, reason


def prepare_models(sources: Sequence[str | os.PathLike], models_dir: Path, compress: bool) -> list[dict[str, Any]]:
    """Compress (or copy) every model into ``models_dir``; the records of ``models.json``.

    Raises
    ------
    UserInputError
        A model file that does not exist, or a study directory started with other models.
    """
    paths = [Path(s).resolve() for s in sources]
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
    records = []
    for index, (path, source) in enumerate(zip(paths, wanted)):
        name = f"model_{index}{path.suffix or '.pb'}"
        target = models_dir / name
        started = time.monotonic()
        ok, reason = (False, "compress is off in the plan")
        if compress:
            ok, reason = compress_model(path, target, models_dir / f".compress_{index}")
            shutil.rmtree(models_dir / f".compress_{index}", ignore_errors=True)
        if not ok:
            if compress:
                log.warning("dp compress failed for %s: %s; using the uncompressed model", path, reason)
            tmp = target.with_name(f".{name}.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        records.append({**source, "name": name, "compressed": ok, "compress_error": None if ok else reason,
                        "compress_s": round(time.monotonic() - started, 1)})
    write_json_atomic(record_path, records)
    return records
