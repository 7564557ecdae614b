"""Reference crystals of LLZO's building blocks: the elements and the binary/ternary oxides.

The PCA-coverage paper (You et al., npj Comput. Mater. 2024) seeds its training set with
"elemental and compound structures of Li, La, Zr, O" whose lattices are scaled; these
generators give those crystals, each built with ``Structure.from_spacegroup`` from its space
group, lattice parameters and Wyckoff positions. Lattice-parameter keywords let a user scale or
replace the experimental values (scaled and perturbed frames come from
:mod:`dpgen_llzo.structures.perturb` through ``_dpgen_llzo.init``).

Settings: pymatgen's ``from_spacegroup`` uses the first setting of the International Tables for
the monoclinic groups (unique axis b, cell choice 1), the hexagonal axes for P-3m1 and
origin choice 1 for Fd-3m; coordinates below are written in those settings (the pyrochlore
positions are quoted in the usual origin choice 2 and shifted by (1/8, 1/8, 1/8)).

======================  ===============  ===============  =============================================
name                    cell (Z)         space group      source of the crystallography
======================  ===============  ===============  =============================================
``li-bcc``              Li2 (2)          Im-3m (229)      Wyckoff 1963 (room temperature)
``la-dhcp``             La4 (4)          P6_3/mmc (194)   Spedding et al. 1956 (alpha-La)
``la-fcc``              La4 (4)          Fm-3m (225)      Spedding et al. 1956 (beta-La)
``zr-hcp``              Zr2 (2)          P6_3/mmc (194)   Goldak et al. 1966 (room temperature)
``li2o``                Li8O4 (4)        Fm-3m (225)      Farley et al. 1991 (antifluorite)
``la2o3``               La2O3 (1)        P-3m1 (164)      Aldebert & Traverse 1979 (neutron)
``zro2-monoclinic``     Zr4O8 (4)        P2_1/c (14)      Howard et al. 1988 (neutron)
``zro2-cubic``          Zr4O8 (4)        Fm-3m (225)      fluorite, a extrapolated to room temperature
``la2zr2o7``            La16Zr16O56 (8)  Fd-3m (227)      pyrochlore, powder refinements (Tabira 2000)
``li2zro3``             Li8Zr4O12 (4)    C2/c (15)        cell: Hodeau et al. 1982; positions derived
======================  ===============  ===============  =============================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from dpgen_llzo.structures import STRUCTURES
from dpgen_llzo.structures.common import check_positive, sort_sites

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Lattice, Structure

Site = tuple[str, tuple[float, float, float]]


def _crystal(space_group: str | int, lattice: Lattice, sites: Sequence[Site]) -> Structure:
    """Fill the orbits of ``sites`` (element, fractional coordinates) and sort the sites."""
    from pymatgen.core import Structure

    structure = Structure.from_spacegroup(
        space_group, lattice, [element for element, _ in sites], [xyz for _, xyz in sites]
    )
    return sort_sites(structure)


def _check_angle(name: str, value: object) -> float:
    angle = check_positive(name, value)
    if not 90.0 <= angle < 180.0:
        from dpgen_llzo.errors import UserInputError

        raise UserInputError(f"{name} must be in [90, 180) degrees, got {value!r}")
    return angle


# --------------------------------------------------------------------------- elements


@STRUCTURES.register("li-bcc", summary="Li metal, bcc Im-3m (Li2 conventional cell)")
def build_li_bcc(*, seed: int = 0, a: float = 3.5093) -> Structure:
    """Body-centred cubic lithium, the room-temperature phase (2 atoms).

    Source: a = 3.5093 Å at 293 K (R. W. G. Wyckoff, *Crystal Structures*, vol. 1, 2nd ed.,
    Interscience, 1963). Li on 2a (0, 0, 0) of Im-3m. Nearest neighbours at a·√3/2 = 3.04 Å.

    Parameters
    ----------
    seed
        Unused (no random choice); accepted for the common generator signature.
    a
        Cubic lattice parameter, Å.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    return _crystal("Im-3m", Lattice.cubic(a), [("Li", (0.0, 0.0, 0.0))])


@STRUCTURES.register("la-dhcp", summary="La metal, α-La double hcp P6_3/mmc (La4)")
def build_la_dhcp(*, seed: int = 0, a: float = 3.774, c: float = 12.171) -> Structure:
    """α-lanthanum, double-hexagonal close packing (ABAC stacking, 4 atoms).

    Source: a = 3.774, c = 12.171 Å at room temperature (F. H. Spedding, A. H. Daane,
    K. W. Herrmann, Acta Cryst. 9 (1956) 559). La on 2a (0, 0, 0) and 2c (1/3, 2/3, 1/4) of
    P6_3/mmc. Nearest neighbours ≈ 3.74–3.77 Å.

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a, c
        Hexagonal lattice parameters, Å.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    c = check_positive("lattice parameter c", c)
    return _crystal(
        "P6_3/mmc", Lattice.hexagonal(a, c), [("La", (0.0, 0.0, 0.0)), ("La", (1 / 3, 2 / 3, 0.25))]
    )


@STRUCTURES.register("la-fcc", summary="La metal, β-La fcc Fm-3m (La4)")
def build_la_fcc(*, seed: int = 0, a: float = 5.303) -> Structure:
    """β-lanthanum, face-centred cubic (stable 583–1138 K, retained on quenching; 4 atoms).

    Source: a = 5.303 Å (Spedding, Daane & Herrmann, Acta Cryst. 9 (1956) 559). La on 4a
    (0, 0, 0) of Fm-3m; nearest neighbours at a/√2 = 3.75 Å.

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a
        Cubic lattice parameter, Å.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    return _crystal("Fm-3m", Lattice.cubic(a), [("La", (0.0, 0.0, 0.0))])


@STRUCTURES.register("zr-hcp", summary="Zr metal, α-Zr hcp P6_3/mmc (Zr2)")
def build_zr_hcp(*, seed: int = 0, a: float = 3.2316, c: float = 5.1475) -> Structure:
    """α-zirconium, hexagonal close packing (2 atoms).

    Source: a = 3.2316, c = 5.1475 Å at room temperature (J. Goldak, L. T. Lloyd,
    C. S. Barrett, Phys. Rev. 144 (1966) 478). Zr on 2c (1/3, 2/3, 1/4) of P6_3/mmc; nearest
    neighbours 3.18 and 3.23 Å.

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a, c
        Hexagonal lattice parameters, Å.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    c = check_positive("lattice parameter c", c)
    return _crystal("P6_3/mmc", Lattice.hexagonal(a, c), [("Zr", (1 / 3, 2 / 3, 0.25))])


# --------------------------------------------------------------------------- binary oxides


@STRUCTURES.register("li2o", summary="Li2O antifluorite Fm-3m (Li8O4)")
def build_li2o(*, seed: int = 0, a: float = 4.6114) -> Structure:
    """Lithium oxide, antifluorite structure (12 atoms).

    Source: a = 4.6114 Å at room temperature (neutron powder diffraction, T. W. D. Farley,
    W. Hayes, S. Hull, M. T. Hutchings, M. Vrtis, J. Phys.: Condens. Matter 3 (1991) 4761).
    O on 4a (0, 0, 0), Li on 8c (1/4, 1/4, 1/4) of Fm-3m: LiO4 tetrahedra, Li–O = a·√3/4 =
    2.00 Å.

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a
        Cubic lattice parameter, Å.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    return _crystal("Fm-3m", Lattice.cubic(a), [("Li", (0.25, 0.25, 0.25)), ("O", (0.0, 0.0, 0.0))])


@STRUCTURES.register("la2o3", summary="La2O3 hexagonal A-type P-3m1 (La2O3)")
def build_la2o3(
    *, seed: int = 0, a: float = 3.9373, c: float = 6.1299, z_la: float = 0.2462, z_o: float = 0.6466
) -> Structure:
    """Lanthanum sesquioxide, hexagonal A-type (5 atoms), the stable form below ≈ 2300 K.

    Source: a = 3.9373, c = 6.1299 Å; La on 2d (1/3, 2/3, z_La = 0.2462), O1 on 1a (0, 0, 0),
    O2 on 2d (1/3, 2/3, z_O = 0.6466) of P-3m1 (neutron powder diffraction, P. Aldebert,
    J. P. Traverse, Mater. Res. Bull. 14 (1979) 303). La is seven-coordinated, La–O
    3 × 2.37, 1 × 2.45 and 3 × 2.73 Å.

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a, c
        Hexagonal lattice parameters, Å.
    z_la, z_o
        Free z coordinates of the two 2d orbits.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    c = check_positive("lattice parameter c", c)
    return _crystal(
        "P-3m1",
        Lattice.hexagonal(a, c),
        [("La", (1 / 3, 2 / 3, float(z_la))), ("O", (0.0, 0.0, 0.0)), ("O", (1 / 3, 2 / 3, float(z_o)))],
    )


@STRUCTURES.register("zro2-monoclinic", summary="ZrO2 baddeleyite P2_1/c (Zr4O8)")
def build_zro2_monoclinic(
    *,
    seed: int = 0,
    a: float = 5.1505,
    b: float = 5.2116,
    c: float = 5.3173,
    beta: float = 99.23,
) -> Structure:
    """Monoclinic zirconia (baddeleyite), the room-temperature phase (12 atoms).

    Source: a = 5.1505, b = 5.2116, c = 5.3173 Å, β = 99.23° at room temperature; all atoms on
    4e of P2_1/c: Zr (0.2754, 0.0395, 0.2083), O1 (0.0700, 0.3317, 0.3447), O2 (0.4496,
    0.7569, 0.4792) (high-resolution neutron powder diffraction, C. J. Howard, R. J. Hill,
    B. E. Reichert, Acta Cryst. B44 (1988) 116). Zr is seven-coordinated, Zr–O 2.05–2.27 Å.

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a, b, c
        Monoclinic lattice parameters, Å.
    beta
        Monoclinic angle, degrees.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    b = check_positive("lattice parameter b", b)
    c = check_positive("lattice parameter c", c)
    beta = _check_angle("lattice angle beta", beta)
    return _crystal(
        "P2_1/c",
        Lattice.monoclinic(a, b, c, beta),
        [
            ("Zr", (0.2754, 0.0395, 0.2083)),
            ("O", (0.0700, 0.3317, 0.3447)),
            ("O", (0.4496, 0.7569, 0.4792)),
        ],
    )


@STRUCTURES.register("zro2-cubic", summary="ZrO2 fluorite Fm-3m (Zr4O8)")
def build_zro2_cubic(*, seed: int = 0, a: float = 5.09) -> Structure:
    """Cubic zirconia, fluorite structure (12 atoms); pure ZrO2 is cubic only above ≈ 2640 K.

    Source: Zr on 4a (0, 0, 0), O on 8c (1/4, 1/4, 1/4) of Fm-3m (fluorite). a = 5.09 Å is
    the room-temperature value extrapolated from stabilised cubic solid solutions to zero
    dopant (5.07–5.10 Å in the literature; 5.13 Å for 8 mol% Y2O3, and 5.27 Å measured for pure
    ZrO2 at 2690 K by P. Aldebert, J. P. Traverse, J. Am. Ceram. Soc. 68 (1985) 34). Zr–O =
    a·√3/4 = 2.20 Å.

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a
        Cubic lattice parameter, Å.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    return _crystal("Fm-3m", Lattice.cubic(a), [("Zr", (0.0, 0.0, 0.0)), ("O", (0.25, 0.25, 0.25))])


# --------------------------------------------------------------------------- ternary oxides


@STRUCTURES.register("la2zr2o7", summary="La2Zr2O7 pyrochlore Fd-3m (La16Zr16O56)")
def build_la2zr2o7(*, seed: int = 0, a: float = 10.786, x_o: float = 0.332) -> Structure:
    """Lanthanum zirconate, cubic pyrochlore (88 atoms), the usual La–Zr–O reaction product of
    LLZO with Li loss.

    Source: a = 10.786 Å and x(O 48f) = 0.332, typical of X-ray/neutron powder refinements of
    La2Zr2O7 (e.g. Y. Tabira, R. L. Withers, L. Minervini, R. W. Grimes, J. Solid State Chem.
    153 (2000) 16). Origin choice 2 of Fd-3m: Zr on 16c (0, 0, 0), La on 16d (1/2, 1/2, 1/2),
    O on 48f (x, 1/8, 1/8) and 8b (3/8, 3/8, 3/8); written here in origin choice 1 (shift
    +1/8, 1/8, 1/8), the setting pymatgen uses. ZrO6 octahedra with Zr–O 2.10 Å; La eight-
    coordinated (2 × 2.34 Å to the 8b O, 6 × 2.63 Å).

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a
        Cubic lattice parameter, Å.
    x_o
        Free x coordinate of the 48f oxygen in origin choice 2 (0.3125: regular ZrO6
        octahedra; 0.375: the fluorite parent).
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    shift = 1 / 8
    return _crystal(
        "Fd-3m",
        Lattice.cubic(a),
        [
            ("La", (0.5 + shift, 0.5 + shift, 0.5 + shift)),
            ("Zr", (shift, shift, shift)),
            ("O", (float(x_o) + shift, 0.25, 0.25)),
            ("O", (0.5, 0.5, 0.5)),
        ],
    )


@STRUCTURES.register("li2zro3", summary="Li2ZrO3 monoclinic C2/c, ordered rock salt (Li8Zr4O12)")
def build_li2zro3(
    *,
    seed: int = 0,
    a: float = 5.4218,
    b: float = 9.0216,
    c: float = 5.4187,
    beta: float = 112.709,
) -> Structure:
    """Lithium metazirconate, monoclinic C2/c (24 atoms): a cation-ordered rock salt with Li and
    Zr in O6 octahedra; the Li-rich decomposition product of LLZO.

    Source of the cell: a = 5.4218, b = 9.0216, c = 5.4187 Å, β = 112.709° (neutron powder
    diffraction, J. L. Hodeau, M. Marezio, A. Santoro, R. S. Roth, J. Solid State Chem. 45
    (1982) 170); cell volume 244.5 Å^3, Z = 4.

    Source of the positions (C2/c, cell choice 1): Li1 4e (0, 0.0768, 1/4), Li2 4e (0, 0.7596,
    1/4), Zr 4e (0, 0.4102, 1/4), O1 4d (1/4, 1/4, 1/2), O2 8f (0.2661, 0.0786, 0.9872). These
    were derived in this project, not copied from the refinement: the Li/Zr ordering of the
    rock-salt parent that has C2/c symmetry in this cell with the lowest Ewald energy, relaxed
    with CHGNet 0.3 at the fixed experimental cell under C2/c symmetry. Compare with the
    published refinement before quoting them. Li–O 2.07–2.39 Å, Zr–O 2.08–2.13 Å.

    Parameters
    ----------
    seed
        Unused; accepted for the common generator signature.
    a, b, c
        Monoclinic lattice parameters, Å.
    beta
        Monoclinic angle, degrees.
    """
    from pymatgen.core import Lattice

    a = check_positive("lattice parameter a", a)
    b = check_positive("lattice parameter b", b)
    c = check_positive("lattice parameter c", c)
    beta = _check_angle("lattice angle beta", beta)
    return _crystal(
        "C2/c",
        Lattice.monoclinic(a, b, c, beta),
        [
            ("Li", (0.0, 0.0768, 0.25)),
            ("Li", (0.0, 0.7596, 0.25)),
            ("Zr", (0.0, 0.4102, 0.25)),
            ("O", (0.25, 0.25, 0.5)),
            ("O", (0.2661, 0.0786, 0.9872)),
        ],
    )
