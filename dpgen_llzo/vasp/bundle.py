"""The VASP checks of a ``fp_style: "vasp"`` param.json (``dpgen-llzo bundle check``)."""

from __future__ import annotations

from pathlib import Path

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.vasp.inputs import check_incar, read_incar
from dpgen_llzo.vasp.potcar import check_potcar_file, dataset_of_pp_file, element_of_dataset


def check_vasp_bundle(
    param_path: str | Path, *, potcar_dir: str | Path | None = None, workdir: str | Path | None = None
) -> list[str]:
    """Check the VASP part of a DP-GEN param.json.

    * ``fp_incar`` exists (resolved from ``workdir``, as DP-GEN resolves it from the directory
      where ``dpgen run`` starts) and passes :func:`check_incar`;
    * ``fp_pp_files`` has one entry per ``type_map`` element, in the same order;
    * with ``potcar_dir`` (used instead of ``fp_pp_path``), each file exists, its header names
      the right element and dataset, and ENCUT is not below its ENMAX.

    Returns
    -------
    list of str
        One line per check passed.

    Raises
    ------
    UserInputError
        The first failed check, naming the file and the field.
    """
    from dpgen_llzo.config import load_json

    path = Path(param_path)
    param = load_json(path)
    if param.get("fp_style") != "vasp":
        raise UserInputError(f"{path}: fp_style is {param.get('fp_style')!r}; the VASP checks need \"vasp\"")
    for key in ("fp_incar", "fp_pp_files", "type_map"):
        if key not in param:
            raise UserInputError(f"{path}: {key} is missing (needed with fp_style \"vasp\")")
    base = Path(workdir) if workdir is not None else Path.cwd()
    incar_path = Path(param["fp_incar"])
    if not incar_path.is_absolute():
        incar_path = base / incar_path
    if not incar_path.is_file():
        raise UserInputError(
            f"{path}: fp_incar: {incar_path} does not exist (DP-GEN resolves it from the directory "
            f"where `dpgen run` starts: run there, pass --workdir, or give an absolute path)"
        )
    incar = read_incar(incar_path)
    lines = check_incar(incar, incar_path)

    type_map = list(param["type_map"])
    pp_files = list(param["fp_pp_files"])
    if len(pp_files) != len(type_map):
        raise UserInputError(f"{path}: fp_pp_files has {len(pp_files)} entries but type_map has {len(type_map)} ({' '.join(type_map)})")
    datasets = []
    for index, (name, element) in enumerate(zip(pp_files, type_map)):
        dataset = dataset_of_pp_file(name)
        try:
            pp_element = element_of_dataset(dataset)
        except UserInputError:
            raise UserInputError(
                f"{path}: fp_pp_files[{index}] = {name!r}: cannot tell its element; name it <dataset>/POTCAR or POTCAR.<dataset>"
            ) from None
        if pp_element != element:
            raise UserInputError(f"{path}: fp_pp_files[{index}] = {name!r} is a POTCAR for {pp_element} but type_map[{index}] is {element}")
        datasets.append(dataset)
    lines.append(f"{path}: fp_pp_files follow type_map ({', '.join(f'{e}: {d}' for e, d in zip(type_map, datasets))})")

    if potcar_dir is not None:
        encut = float(incar.get("ENCUT", 0.0))
        for name, element, dataset in zip(pp_files, type_map, datasets):
            file = Path(potcar_dir) / name
            header = check_potcar_file(file, element, dataset)
            if header.enmax is not None and encut < header.enmax:
                raise UserInputError(f"{incar_path}: ENCUT = {encut:g} eV is below ENMAX = {header.enmax:g} eV of {file}")
            lines.append(f"{file}: {header.titel}" + (f", ENMAX {header.enmax:g} eV" if header.enmax is not None else ""))
    return lines


__all__ = ["check_vasp_bundle"]
