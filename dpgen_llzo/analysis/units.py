"""Physical constants and unit conversions used by the analyses (CODATA 2018)."""

E_CHARGE_C = 1.602176634e-19
K_B_J_K = 1.380649e-23
K_B_EV_K = 8.617333262e-5
A2_PER_PS_TO_CM2_PER_S = 1e-4  # 1 Å²/ps = 1e-16 cm² / 1e-12 s
A3_TO_M3 = 1e-30
CM2_PER_S_TO_M2_PER_S = 1e-4
S_PER_M_TO_S_PER_CM = 1e-2
