"""Coefficients of sim/ops/erf.cpp: erf on [0, 4] as 8 polynomials, evaluated in double.

    /usr/bin/python3 scripts/fit_erf.py      (needs Debian's python3-mpmath)

Interval 0, [0, 0.5): erf(x) = x * P0(v), v = 8 x^2 - 1 in [-1, 1] (degree 8, so erf keeps its
relative accuracy near 0). Interval i = 1..7, [i/2, i/2 + 1/2): erf(x) = Pi(u),
u = 4 (x - i/2 - 1/4) in [-1, 1] (degree 10). Each is the Chebyshev interpolant at degree + 1
nodes, computed with 50 digits and converted to monomials, then rounded to double. Prints the
C++ table rows and the largest error, in units of the float result's last place, over a sweep
of floats (it should stay near 1e-5: the float result is then correctly rounded unless erf(x)
lies within that distance of a tie).
"""
import numpy as np
import mpmath as mp

mp.mp.dps = 50
DEG0, DEG = 8, 10


def chebyshev_monomials(f, deg):
    n = deg + 1
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    vals = [f(t) for t in nodes]
    cheb = [sum(vals[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / n) for k in range(n))
            * (1 if j == 0 else 2) / n for j in range(n)]
    basis = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]  # T_j as monomial coefficients
    for j in range(2, n):
        a = [mp.mpf(0)] + [2 * v for v in basis[j - 1]]
        b = basis[j - 2] + [mp.mpf(0)] * (len(a) - len(basis[j - 2]))
        basis.append([x - y for x, y in zip(a, b)])
    mono = [mp.mpf(0)] * n
    for j in range(n):
        for i, v in enumerate(basis[j]):
            mono[i] += cheb[j] * v
    return [float(v) for v in mono]


def first(v):
    x = mp.sqrt((v + 1) / 8)
    return mp.erf(x) / x if x > 0 else 2 / mp.sqrt(mp.pi)


tables = [chebyshev_monomials(first, DEG0)]
for i in range(1, 8):
    centre = mp.mpf(i) / 2 + mp.mpf(1) / 4
    tables.append(chebyshev_monomials(lambda u, c=centre: mp.erf(c + u / 4), DEG))

xs = np.concatenate([np.linspace(0, 4, 30001), np.geomspace(1e-30, 0.5, 3001)])
xs = xs.astype(np.float32).astype(np.float64)
idx = np.minimum((xs * 2).astype(int), 7)
u = np.where(idx == 0, 8 * xs * xs - 1, (xs - (idx / 2 + 0.25)) * 4)
approx = np.empty_like(xs)
for i, coef in enumerate(tables):
    m = idx == i
    r = np.full(m.sum(), coef[-1])
    for c in reversed(coef[:-1]):
        r = r * u[m] + c
    approx[m] = xs[m] * r if i == 0 else r
truth = np.array([float(mp.erf(mp.mpf(x))) for x in xs])
ulp = np.spacing(truth.astype(np.float32)).astype(np.float64)
for coef in tables:
    print("    {" + ", ".join(repr(c) for c in coef + [0.0] * (DEG + 1 - len(coef))) + "},")
print(f"max error {np.max(np.abs(approx - truth) / ulp):.3g} float ulp over {len(xs)} floats")
