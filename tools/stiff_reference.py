"""Reference values for the stiff-solver tests (ltc-burn/src/ode/tests.rs, `stiff_*`).

Robertson's chemical kinetics to t = 1e5 and Van der Pol with mu = 1000, solved by scipy's
Radau at tight tolerances (rtol 1e-12). Run:

    python3 -m venv .venv-peer && .venv-peer/bin/pip install scipy
    .venv-peer/bin/python tools/stiff_reference.py > ltc-burn/tests/fixtures/stiff_reference.json
"""
import json

import numpy as np
import scipy
from scipy.integrate import solve_ivp


def robertson(t, y):
    return [
        -0.04 * y[0] + 1e4 * y[1] * y[2],
        0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
        3e7 * y[1] ** 2,
    ]


MU = 1000.0


def van_der_pol(t, y):
    return [y[1], MU * (1 - y[0] ** 2) * y[1] - y[0]]


def reference(fun, y0, times, atol):
    sol = solve_ivp(fun, (0.0, times[-1]), y0, method="Radau", t_eval=times,
                    rtol=1e-12, atol=atol)
    assert sol.success, sol.message
    return {"y0": y0, "times": times, "states": sol.y.T.tolist(), "nfev": int(sol.nfev)}


out = {
    "source": f"scipy {scipy.__version__} solve_ivp(method='Radau', rtol=1e-12), "
              "tools/stiff_reference.py",
    "robertson": reference(robertson, [1.0, 0.0, 0.0], [1e-2, 1.0, 1e2, 1e4, 1e5], 1e-14),
    "van_der_pol_mu1000": reference(van_der_pol, [2.0, 0.0],
                                    [100.0, 500.0, 700.0, 1000.0, 1400.0, 2000.0], 1e-12),
}
print(json.dumps(out, indent=1))
