"""Analyses of DP-MD trajectories of LLZO: transport, structure, lattice and phase transition.

One analyzer per question (``ANALYSES`` lists them), fed by registered trajectory readers
(``READERS``)::

    from dpgen_llzo.analysis import DiffusionAnalyzer, load_trajectory
    run = load_trajectory("dump.lammpstrj", "Li", timestep_fs=1.0, type_map=["Li", "La", "Zr", "O"])
    report = DiffusionAnalyzer([run], temperature_K=1000).to_dict()
"""

from dpgen_llzo.analysis._registries import ANALYSES, READERS
from dpgen_llzo.analysis.arrhenius import ArrheniusFit, arrhenius_fit, arrhenius_report
from dpgen_llzo.analysis.density import DensityMap, density_map
from dpgen_llzo.analysis.diffusion import (DiffusionAnalyzer, collective_conductivity,
                                           nernst_einstein_conductivity, region_diffusion, tracer_diffusion)
from dpgen_llzo.analysis.fitting import FitWindow, choose_fit_window
from dpgen_llzo.analysis.lattice import (LatticeTable, cell_lengths_from_cells, cell_lengths_from_thermo,
                                         lattice_table, read_lammps_thermo, thermal_expansion)
from dpgen_llzo.analysis.msd import collective_msd, masked_msd_sums, per_ion_msd
from dpgen_llzo.analysis.rdf import RDFResult, partial_rdf, rdf_similarity
from dpgen_llzo.analysis.readers import detect_format, iter_frames, load_trajectory
from dpgen_llzo.analysis.regions import GrainBoundaryPlanes, distance_to_planes, gb_mask
from dpgen_llzo.analysis.trajectory import Frame, Trajectory
from dpgen_llzo.analysis.transition import (TransitionResult, c_over_a, melting_signature,
                                            transition_temperature)
from dpgen_llzo.analysis.xrd import average_structure, xrd_pattern

__all__ = [
    "ANALYSES", "READERS", "ArrheniusFit", "DensityMap", "DiffusionAnalyzer", "FitWindow", "Frame",
    "GrainBoundaryPlanes", "LatticeTable", "RDFResult", "Trajectory", "TransitionResult", "arrhenius_fit",
    "arrhenius_report", "average_structure", "c_over_a", "cell_lengths_from_cells", "cell_lengths_from_thermo",
    "choose_fit_window", "collective_conductivity", "collective_msd", "density_map", "detect_format",
    "distance_to_planes", "gb_mask", "iter_frames", "lattice_table", "load_trajectory", "masked_msd_sums",
    "melting_signature", "nernst_einstein_conductivity", "partial_rdf", "per_ion_msd", "rdf_similarity",
    "read_lammps_thermo", "region_diffusion", "thermal_expansion", "tracer_diffusion", "transition_temperature",
    "xrd_pattern",
]
