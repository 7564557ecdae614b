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
