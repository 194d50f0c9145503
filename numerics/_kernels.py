# GENERATED FILE -- DO NOT EDIT.
# Written by `copyhead codegen` (python -m copyhead.theory.symbolic.codegen) from theory/symbolic/reduced.py
# (SymPy 1.14.0; expression digest 6cff44ebeef95a1d).
# Each kernel returns (F, F_x, F_xx, F_xxx, F_xa, F_xxa) of the reduced free energy per V^2;
# x = u = m^2 for linear attention, x = s for softmax attention (see theory/reduced.py).
import math

import numba
import numpy as np


@numba.njit(cache=True, error_model="numpy")
def softmax_qk_posterior(x, alpha, T, nu, sigma2, kappa):
    """softmax_qk_posterior: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = s (generated)."""
    t0 = x**2
    t1 = 4*t0
    t2 = t1 + 1
    t3 = math.sqrt(t2)
    t4 = t3 + 1
    t5 = T - 1
    t6 = nu*t5
    t7 = math.exp(-x)
    t8 = t5*t7
    t9 = t8 + 1
    t10 = t9**(-2)
    t11 = 1/t5
    t12 = 1/t9
    t13 = 1 - t12
    t14 = t13**2
    t15 = t11*t14
    t16 = t10 + t15
    t17 = alpha*sigma2
    t18 = t16*t17
    t19 = t18 + 1
    t20 = t15*t17 + 1
    t21 = 1/t19
    t22 = alpha*t20*t21
    t23 = 1/t3
    t24 = 1/t4
    t25 = sigma2*t21
    t26 = t13*t25
    t27 = alpha**2
    t28 = t10*t7
    t29 = t27*t28
    t30 = t26*t29
    t31 = t12*t5 + t12 - 1
    t32 = -t31
    t33 = t28*t32
    t34 = t17*t21
    t35 = t19**(-2)
    t36 = math.exp(-2*x)
    t37 = t9**(-4)
    t38 = t36*t37
    t39 = t25*t27
    t40 = t39*t5
    t41 = t38*t40
    t42 = 2*t13
    t43 = t9**(-3)
    t44 = t36*t43
    t45 = t32**2
    t46 = sigma2**2
    t47 = t38*t46
    t48 = t45*t47
    t49 = t2**(-3/2)
    t50 = t1*t49
    t51 = t4**(-2)
    t52 = t51/t2
    t53 = 4*t13
    t54 = t32*t47
    t55 = alpha**3
    t56 = t35*t55
    t57 = t19**(-3)
    t58 = t55*t57
    t59 = t20*t58
    t60 = t5**2
    t61 = t12*t8
    t62 = -t10*t5*t7 - 3*t10*t60*t7 + t31 + t42*t61
    t63 = -t62
    t64 = t28*t34
    t65 = sigma2*t20*t35
    t66 = math.exp(-3*x)
    t67 = t9**(-5)
    t68 = 6*t60
    t69 = t26*t27
    t70 = t32**3
    t71 = sigma2**3
    t72 = t9**(-6)
    t73 = t66*t71*t72
    t74 = alpha**4
    t75 = 3*t49
    t76 = 12*t0
    t77 = t76/t2**(5/2)
    t78 = 6*t10*t13*t36*t60 + 3*t10*t5*t7 + 9*t10*t60*t7 - 6*t13*t61 - t31 - 12*t44*t5**3 - t44*t68
    t79 = 2*t22
    t80 = t18*t21
    t81 = t15*t39
    t82 = t16*t27
    t83 = -alpha*t42 + t26*t82
    t84 = t25*t28
    return ((1/2)*t22 - 1/2*t6*(-t3 + math.log((1/2)*t4) + 1) + (1/2)*math.log(t19), 2*nu*t23*t5*x*(1 - t24) + sigma2*t10*t20*t27*t32*t35*t7 - t30 - t33*t34, -2*t27*t35*t48 - t29*t63*t65 + t30 - t40*t42*t44 + t41 + 4*t48*t59 - t53*t54*t56 + 2*t6*(t1*t52 - t23*t24 + t23 + t24*t50 - t50) + t63*t64, sigma2*t10*t20*t27*t35*t7*t78 + 6*sigma2*t13*t21*t27*t36*t43*t5 + 6*sigma2*t21*t27*t60*t66*t67 + 6*t13*t32*t35*t36*t37*t46*t55 - 12*t13*t32*t46*t5*t56*t66*t67 + 6*t13*t35*t36*t37*t46*t55*t63 - 24*t13*t45*t57*t73*t74 + 6*t27*t32*t35*t36*t37*t46*t63 - t30 + 6*t32*t35*t46*t5*t55*t66*t72 - t37*t66*t68*t69 - 3*t41 - 12*t54*t59*t63 - 8*t58*t70*t73 - 8*t6*x*(8*t0*t49/t4**3 - t24*t75 + t24*t77 - 3*t52 + t75 - t77 + t51*t76/t2**2) - t64*t78 + 24*t20*t66*t70*t71*t72*t74/t19**4, t84*(t31 - 2*t32*t65*t82 + t32*t79 + t32*t80 + t32*t81 + t83), t84*(2*alpha*t10*t5*t7 - alpha*t53*t61 + 12*sigma2*t10*t20*t27*t35*t45*t7 + 2*sigma2*t12*t13*t16*t21*t27*t5*t7 + 2*sigma2*t16*t20*t27*t35*t63 + 4*t10*t11*t14*t35*t45*t46*t55*t7 + 8*t10*t13*t16*t32*t35*t46*t55*t7 + 4*t10*t16*t27*t35*t45*t46*t7 - t10*t25*t8*t82 - 12*t16*t28*t45*t46*t59 - 12*t33*t69 - 4*t45*t64 - t62 - t63*t79 - t63*t80 - t63*t81 - t83))


@numba.njit(cache=True, error_model="numpy")
def _softmax_qk_posterior_012(x, alpha, T, nu, sigma2, kappa):
    """softmax_qk_posterior: (F, F_x, F_xx) only, for grids (generated)."""
    t0 = 4*x**2
    t1 = t0 + 1
    t2 = math.sqrt(t1)
    t3 = t2 + 1
    t4 = T - 1
    t5 = nu*t4
    t6 = math.exp(-x)
    t7 = t4*t6
    t8 = t7 + 1
    t9 = t8**(-2)
    t10 = 1/t8
    t11 = 1 - t10
    t12 = t11**2/t4
    t13 = alpha*sigma2
    t14 = t13*(t12 + t9) + 1
    t15 = t12*t13 + 1
    t16 = 1/t14
    t17 = 1/t2
    t18 = 1/t3
    t19 = t6*t9
    t20 = t16*t19
    t21 = alpha**2
    t22 = sigma2*t21
    t23 = t11*t20*t22
    t24 = t10*t4 + t10 - 1
    t25 = -t24
    t26 = t13*t20
    t27 = t14**(-2)
    t28 = math.exp(-2*x)
    t29 = t28/t8**4
    t30 = t16*t22*t4
    t31 = 2*t11
    t32 = sigma2**2*t29
    t33 = t25**2*t32
    t34 = t0/t1**(3/2)
    t35 = 4*alpha**3
    t36 = -t10*t31*t7 - t24 + 3*t4**2*t6*t9 + t4*t6*t9
    return ((1/2)*alpha*t15*t16 - 1/2*t5*(-t2 + math.log((1/2)*t3) + 1) + (1/2)*math.log(t14), 2*nu*t17*t4*x*(1 - t18) + sigma2*t15*t21*t25*t27*t6*t9 - t23 - t25*t26, -t11*t25*t27*t32*t35 - t15*t19*t22*t27*t36 - 2*t21*t27*t33 + t23 + t26*t36 - t28*t30*t31/t8**3 + t29*t30 + 2*t5*(t0/(t1*t3**2) - t17*t18 + t17 + t18*t34 - t34) + t15*t33*t35/t14**3)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def softmax_qk_posterior_grid(xs, alphas, T, nu, sigma2, kappa):
    """(F, F_x, F_xx) of softmax_qk_posterior on the grid alphas x xs (generated; parallel over all points)."""
    nx = xs.size
    out = np.empty((alphas.size, nx, 3))
    for k in numba.prange(alphas.size * nx):
        i = k // nx
        j = k - i * nx
        v = _softmax_qk_posterior_012(xs[j], alphas[i], T, nu, sigma2, kappa)
        out[i, j, 0] = v[0]
        out[i, j, 1] = v[1]
        out[i, j, 2] = v[2]
    return out


@numba.njit(cache=True, error_model="numpy")
def softmax_qk_map(x, alpha, T, nu, sigma2, kappa):
    """softmax_qk_map: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = s (generated)."""
    Sg = 1.0 if x >= 0.0 else -1.0  # sign(x) of the nuclear norm |x|
    t0 = T - 1
    t1 = Sg*nu*t0
    t2 = math.exp(-x)
    t3 = t0*t2
    t4 = t3 + 1
    t5 = t4**(-2)
    t6 = 1/t0
    t7 = 1/t4
    t8 = 1 - t7
    t9 = t8**2
    t10 = t6*t9
    t11 = t10 + t5
    t12 = alpha*sigma2
    t13 = t11*t12
    t14 = t13 + 1
    t15 = 1/t14
    t16 = t10*t12
    t17 = t16 + 1
    t18 = t15*t17
    t19 = t15*t8
    t20 = t2*t5
    t21 = t19*t20
    t22 = alpha**2
    t23 = sigma2*t22
    t24 = t7 - 1
    t25 = t0*t7 + t24
    t26 = -t25
    t27 = t14**(-2)
    t28 = t17*t27
    t29 = t20*t26*t28
    t30 = t0**2
    t31 = 2*t7
    t32 = t3*t8
    t33 = -t0*t2*t5 + t31*t32
    t34 = 3*t2*t30*t5 - t25 - t33
    t35 = t18*t34
    t36 = t26**2
    t37 = t21*t26
    t38 = t15*t20
    t39 = t23*t38
    t40 = math.exp(-2*x)
    t41 = t40/t4**3
    t42 = 12*t41
    t43 = t3*t5
    t44 = t40*t8
    t45 = t32*t7
    t46 = 6*t30*t41 - 6*t30*t44*t5 - 3*t43 + 6*t45
    t47 = t4**(-4)
    t48 = 24*t47
    t49 = sigma2**2
    t50 = t22*t36*t49
    t51 = 6*t12
    t52 = t0*t26
    t53 = t17/t14**3
    t54 = 12*t12
    t55 = 2*t26
    t56 = t15*t16
    t57 = t13*t19 + t31 - 2
    t58 = t12*t38
    return ((1/2)*alpha*t18 + t1*x, t1 - t21*t23 + t23*t29, t39*(4*alpha*sigma2*t17*t2*t27*t36*t5 - 4*t12*t37 - t24 - t33 - t35), t39*(-t12*t19*t42*t52 + t15*t40*t47*t51*t52 + t18*(-t0**3*t42 + 9*t2*t30*t5 - t25 - t46) + t21*t34*t51 + t22*t26**3*t40*t48*t49*t53 + t24 - t27*t44*t48*t50 - t29*t34*t54 + t37*t51 + t46), t58*(-t13*t28*t55 + t18*t55 + t26*t56 + t57), t58*(2*alpha*sigma2*t0*t11*t15*t2*t7*t8 + 2*alpha*sigma2*t11*t17*t27*t34 + 12*alpha*sigma2*t17*t2*t27*t36*t5 + 2*t0*t2*t5 + 8*t11*t2*t22*t26*t27*t49*t5*t8 - 12*t11*t20*t50*t53 - t13*t15*t43 + 4*t2*t22*t27*t36*t49*t5*t6*t9 - t34*t56 - 2*t35 - t37*t54 - 4*t45 - t57))


@numba.njit(cache=True, error_model="numpy")
def _softmax_qk_map_012(x, alpha, T, nu, sigma2, kappa):
    """softmax_qk_map: (F, F_x, F_xx) only, for grids (generated)."""
    Sg = 1.0 if x >= 0.0 else -1.0  # sign(x) of the nuclear norm |x|
    t0 = T - 1
    t1 = Sg*nu*t0
    t2 = math.exp(-x)
    t3 = t0*t2
    t4 = t3 + 1
    t5 = t4**(-2)
    t6 = 1/t4
    t7 = 1 - t6
    t8 = t7**2/t0
    t9 = alpha*sigma2
    t10 = t9*(t5 + t8) + 1
    t11 = 1/t10
    t12 = t8*t9 + 1
    t13 = t11*t12
    t14 = t2*t5
    t15 = alpha**2*sigma2*t14
    t16 = t11*t7
    t17 = t6 - 1
    t18 = t0*t6 + t17
    t19 = -t18
    t20 = t10**(-2)
    t21 = -t0*t2*t5 + 2*t3*t6*t7
    return ((1/2)*alpha*t13 + t1*x, t1 + t12*t15*t19*t20 - t15*t16, t11*t15*(4*alpha*sigma2*t12*t19**2*t2*t20*t5 - t13*(3*t0**2*t2*t5 - t18 - t21) - 4*t14*t16*t19*t9 - t17 - t21))


@numba.njit(cache=True, parallel=True, error_model="numpy")
def softmax_qk_map_grid(xs, alphas, T, nu, sigma2, kappa):
    """(F, F_x, F_xx) of softmax_qk_map on the grid alphas x xs (generated; parallel over all points)."""
    nx = xs.size
    out = np.empty((alphas.size, nx, 3))
    for k in numba.prange(alphas.size * nx):
        i = k // nx
        j = k - i * nx
        v = _softmax_qk_map_012(xs[j], alphas[i], T, nu, sigma2, kappa)
        out[i, j, 0] = v[0]
        out[i, j, 1] = v[1]
        out[i, j, 2] = v[2]
    return out


@numba.njit(cache=True, error_model="numpy")
def softmax_gaussian_posterior(x, alpha, T, nu, sigma2, kappa):
    """softmax_gaussian_posterior: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = s (generated)."""
    t0 = T - 1
    t1 = nu*t0
    t2 = math.exp(-x)
    t3 = t0*t2
    t4 = t3 + 1
    t5 = t4**(-2)
    t6 = 1/t0
    t7 = 1/t4
    t8 = 1 - t7
    t9 = t8**2
    t10 = t6*t9
    t11 = t10 + t5
    t12 = alpha*sigma2
    t13 = t11*t12
    t14 = t13 + 1
    t15 = t10*t12 + 1
    t16 = 1/t14
    t17 = alpha*t15*t16
    t18 = sigma2*t16
    t19 = t18*t8
    t20 = alpha**2
    t21 = t2*t5
    t22 = t20*t21
    t23 = t19*t22
    t24 = t0*t7 + t7 - 1
    t25 = -t24
    t26 = t21*t25
    t27 = t12*t16
    t28 = t26*t27
    t29 = t14**(-2)
    t30 = math.exp(-2*x)
    t31 = t30/t4**4
    t32 = t18*t20
    t33 = t0*t32
    t34 = t31*t33
    t35 = t30/t4**3
    t36 = 2*t8
    t37 = t25**2
    t38 = t20*t29
    t39 = sigma2**2
    t40 = t31*t39
    t41 = t38*t40
    t42 = alpha**3
    t43 = t40*t42
    t44 = t29*t43*t8
    t45 = 4*t37
    t46 = t15/t14**3
    t47 = t43*t46
    t48 = t0**2
    t49 = t3*t7
    t50 = -t0*t2*t5 - 3*t2*t48*t5 + t24 + t36*t49
    t51 = -t50
    t52 = t21*t27
    t53 = sigma2*t15
    t54 = t29*t53
    t55 = alpha*t8
    t56 = t48*t5
    t57 = t3*t5
    t58 = 3*t57
    t59 = 6*t35*t48
    t60 = 12*t35
    t61 = 6*t8
    t62 = t30*t56
    t63 = t0**3*t60 - 9*t2*t56 + t24 + t49*t61 - t58 + t59 - t61*t62
    t64 = 6*t55
    t65 = t25**3
    t66 = t20*t25
    t67 = t18*t21
    t68 = t61*t67
    t69 = 2*t17
    t70 = t13*t16
    t71 = t10*t32
    t72 = t11*t20
    t73 = t19*t72 - 2*t55
    return ((1/2)*t1*x**2 + (1/2)*t17 + (1/2)*math.log(t14), nu*t0*x + sigma2*t15*t2*t20*t25*t29*t5 - t23 - t28, t1 - t22*t51*t54 + t23 - 4*t25*t44 - t33*t35*t36 + t34 - 2*t37*t41 + t45*t47 + t51*t52, t52*(-alpha*t58 + alpha*t59 - t0*t19*t60*t66 - t17*t63 + t20*t51*t68 + 6*t25*t34 - 12*t26*t38*t51*t53 + 6*t28*t51 - 24*t37*t44 - 8*t41*t65 + 24*t47*t65 + t49*t64 - t55 - t62*t64 + t63 + t66*t68), t67*(t24 - 2*t25*t54*t72 + t25*t69 + t25*t70 + t25*t71 + t73), t67*(2*alpha*t0*t2*t5 + 2*sigma2*t0*t11*t16*t2*t20*t7*t8 + 2*sigma2*t11*t15*t20*t29*t51 + 12*sigma2*t15*t2*t20*t29*t37*t5 + 4*t11*t2*t20*t29*t37*t39*t5 + 8*t11*t2*t25*t29*t39*t42*t5*t8 - 12*t11*t21*t37*t39*t42*t46 - t18*t57*t72 - 12*t19*t20*t26 + 4*t2*t29*t37*t39*t42*t5*t6*t9 - t45*t52 - 4*t49*t55 - t50 - t51*t69 - t51*t70 - t51*t71 - t73))


@numba.njit(cache=True, error_model="numpy")
def _softmax_gaussian_posterior_012(x, alpha, T, nu, sigma2, kappa):
    """softmax_gaussian_posterior: (F, F_x, F_xx) only, for grids (generated)."""
    t0 = T - 1
    t1 = nu*t0
    t2 = math.exp(-x)
    t3 = t0*t2
    t4 = t3 + 1
    t5 = t4**(-2)
    t6 = 1/t4
    t7 = 1 - t6
    t8 = t7**2/t0
    t9 = alpha*sigma2
    t10 = t9*(t5 + t8) + 1
    t11 = t8*t9 + 1
    t12 = 1/t10
    t13 = t2*t5
    t14 = t12*t13
    t15 = alpha**2
    t16 = sigma2*t15
    t17 = t14*t16*t7
    t18 = t0*t6 + t6 - 1
    t19 = -t18
    t20 = t14*t9
    t21 = t10**(-2)
    t22 = math.exp(-2*x)
    t23 = t22/t4**4
    t24 = t0*t12*t16
    t25 = 2*t7
    t26 = sigma2**2*t23
    t27 = t19**2*t26
    t28 = 4*alpha**3
    t29 = 3*t0**2*t2*t5 + t0*t2*t5 - t18 - t25*t3*t6
    return ((1/2)*alpha*t11*t12 + (1/2)*t1*x**2 + (1/2)*math.log(t10), nu*t0*x + sigma2*t11*t15*t19*t2*t21*t5 - t17 - t19*t20, t1 - t11*t13*t16*t21*t29 - 2*t15*t21*t27 + t17 - t19*t21*t26*t28*t7 + t20*t29 - t22*t24*t25/t4**3 + t23*t24 + t11*t27*t28/t10**3)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def softmax_gaussian_posterior_grid(xs, alphas, T, nu, sigma2, kappa):
    """(F, F_x, F_xx) of softmax_gaussian_posterior on the grid alphas x xs (generated; parallel over all points)."""
    nx = xs.size
    out = np.empty((alphas.size, nx, 3))
    for k in numba.prange(alphas.size * nx):
        i = k // nx
        j = k - i * nx
        v = _softmax_gaussian_posterior_012(xs[j], alphas[i], T, nu, sigma2, kappa)
        out[i, j, 0] = v[0]
        out[i, j, 1] = v[1]
        out[i, j, 2] = v[2]
    return out


@numba.njit(cache=True, error_model="numpy")
def softmax_gaussian_map(x, alpha, T, nu, sigma2, kappa):
    """softmax_gaussian_map: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = s (generated)."""
    t0 = T - 1
    t1 = nu*t0
    t2 = math.exp(-x)
    t3 = t0*t2
    t4 = t3 + 1
    t5 = t4**(-2)
    t6 = 1/t0
    t7 = 1/t4
    t8 = 1 - t7
    t9 = t8**2
    t10 = t6*t9
    t11 = t10 + t5
    t12 = alpha*sigma2
    t13 = t11*t12
    t14 = t13 + 1
    t15 = 1/t14
    t16 = t10*t12
    t17 = t16 + 1
    t18 = t15*t17
    t19 = t2*t5
    t20 = t15*t8
    t21 = alpha**2
    t22 = sigma2*t21
    t23 = t20*t22
    t24 = t19*t23
    t25 = t7 - 1
    t26 = t0*t7 + t25
    t27 = -t26
    t28 = t19*t27
    t29 = t14**(-2)
    t30 = t17*t29
    t31 = t22*t30
    t32 = t15*t22
    t33 = math.exp(-2*x)
    t34 = t4**(-4)
    t35 = t33*t34
    t36 = t0*t35
    t37 = t33/t4**3
    t38 = 4*alpha**3
    t39 = t33*t8
    t40 = sigma2**2
    t41 = t29*t34*t39*t40
    t42 = t27**2
    t43 = t14**(-3)
    t44 = t17*t35*t40*t43
    t45 = t0**2
    t46 = 2*t7
    t47 = t3*t8
    t48 = t0*t2*t5 + 3*t2*t45*t5 - t26 - t46*t47
    t49 = t19*t48
    t50 = 12*t37
    t51 = t3*t5
    t52 = t47*t7
    t53 = 6*t37*t45 - 6*t39*t45*t5 - 3*t51 + 6*t52
    t54 = 24*t21
    t55 = t12*t15
    t56 = t12*t20
    t57 = 6*t56
    t58 = 12*t28
    t59 = 2*t18
    t60 = t15*t16
    t61 = t13*t20 + t46 - 2
    t62 = t19*t55
    return ((1/2)*alpha*t18 + (1/2)*t1*x**2, t1*x - t24 + t28*t31, -2*t0*t23*t37 + t1 + t24 - t27*t38*t41 - t31*t49 + t32*t36 + t38*t42*t44, t19*t32*(-t0*t27*t50*t56 - t12*t30*t48*t58 + t18*(-t0**3*t50 + 9*t2*t45*t5 - t26 - t53) + t25 + t27**3*t44*t54 + 6*t27*t36*t55 + t28*t57 - t41*t42*t54 + t49*t57 + t53), t62*(-2*t13*t27*t30 + t27*t59 + t27*t60 + t61), t62*(2*alpha*sigma2*t0*t11*t15*t2*t7*t8 + 2*alpha*sigma2*t11*t17*t29*t48 + 12*alpha*sigma2*t17*t2*t29*t42*t5 + 2*t0*t2*t5 - 12*t11*t17*t19*t21*t40*t42*t43 + 8*t11*t2*t21*t27*t29*t40*t5*t8 - t13*t15*t51 + 4*t2*t21*t29*t40*t42*t5*t6*t9 - t48*t59 - t48*t60 - 4*t52 - t56*t58 - t61))


@numba.njit(cache=True, error_model="numpy")
def _softmax_gaussian_map_012(x, alpha, T, nu, sigma2, kappa):
    """softmax_gaussian_map: (F, F_x, F_xx) only, for grids (generated)."""
    t0 = T - 1
    t1 = nu*t0
    t2 = math.exp(-x)
    t3 = t0*t2
    t4 = t3 + 1
    t5 = 1/t4
    t6 = 1 - t5
    t7 = t6**2/t0
    t8 = alpha*sigma2
    t9 = t7*t8 + 1
    t10 = t4**(-2)
    t11 = t8*(t10 + t7) + 1
    t12 = 1/t11
    t13 = t10*t2
    t14 = alpha**2
    t15 = sigma2*t12*t14
    t16 = t13*t15*t6
    t17 = t11**(-2)
    t18 = t0*t5 + t5 - 1
    t19 = -t18
    t20 = t17*t19
    t21 = sigma2*t13*t14*t9
    t22 = math.exp(-2*x)
    t23 = t22/t4**4
    t24 = t0*t15
    t25 = 2*t6
    t26 = 4*alpha**3*sigma2**2*t23
    return ((1/2)*alpha*t12*t9 + (1/2)*t1*x**2, t1*x - t16 + t20*t21, t1 + t16 - t17*t21*(3*t0**2*t10*t2 + t0*t10*t2 - t18 - t25*t3*t5) - t20*t26*t6 - t22*t24*t25/t4**3 + t23*t24 + t19**2*t26*t9/t11**3)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def softmax_gaussian_map_grid(xs, alphas, T, nu, sigma2, kappa):
    """(F, F_x, F_xx) of softmax_gaussian_map on the grid alphas x xs (generated; parallel over all points)."""
    nx = xs.size
    out = np.empty((alphas.size, nx, 3))
    for k in numba.prange(alphas.size * nx):
        i = k // nx
        j = k - i * nx
        v = _softmax_gaussian_map_012(xs[j], alphas[i], T, nu, sigma2, kappa)
        out[i, j, 0] = v[0]
        out[i, j, 1] = v[1]
        out[i, j, 2] = v[2]
    return out


@numba.njit(cache=True, error_model="numpy")
def linear_qk_posterior(x, alpha, T, nu, sigma2, kappa):
    """linear_qk_posterior: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = u (generated)."""
    t0 = sigma2*x
    t1 = alpha*t0 + 1
    t2 = 1/t1
    t3 = alpha*t2
    t4 = 4*x + 1
    t5 = math.sqrt(t4)
    t6 = t5 + 1
    t7 = T*nu
    t8 = (1/2)*sigma2
    t9 = t1**(-2)
    t10 = alpha**2*t9
    t11 = 1/t6
    t12 = sigma2**2
    t13 = alpha**3
    t14 = t1**(-3)
    t15 = t4**(-3/2)
    t16 = t6**(-2)
    t17 = sigma2**3
    t18 = 3/t4**(5/2)
    t19 = t0*t10
    return ((1/2)*t3 - 1/2*t7*(-t5 + math.log((1/2)*t6) + 1) + (1/2)*math.log(t1), -t10*t8 + t3*t8 + t7*(1 - t11)/t5, -1/2*t10*t12 + t12*t13*t14 + 2*t7*(t11*t15 - t15 + t16/t4), -3*alpha**4*t17/t1**4 + t13*t14*t17 - 4*t7*(t11*t18 + 2*t15/t6**3 + 3*t16/t4**2 - t18), sigma2*t2*(-1/2*t0*t3 + t19 - t3 + 1/2), alpha*t12*t9*(alpha*sigma2*t2*x + 3*alpha*t2 - 3*t19 - 1))


@numba.njit(cache=True, error_model="numpy")
def _linear_qk_posterior_012(x, alpha, T, nu, sigma2, kappa):
    """linear_qk_posterior: (F, F_x, F_xx) only, for grids (generated)."""
    t0 = alpha*sigma2*x + 1
    t1 = alpha/t0
    t2 = 4*x + 1
    t3 = math.sqrt(t2)
    t4 = t3 + 1
    t5 = T*nu
    t6 = (1/2)*sigma2
    t7 = alpha**2/t0**2
    t8 = 1/t4
    t9 = sigma2**2
    t10 = t2**(-3/2)
    return ((1/2)*t1 - 1/2*t5*(-t3 + math.log((1/2)*t4) + 1) + (1/2)*math.log(t0), t1*t6 - t6*t7 + t5*(1 - t8)/t3, alpha**3*t9/t0**3 + 2*t5*(t10*t8 - t10 + 1/(t2*t4**2)) - 1/2*t7*t9)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def linear_qk_posterior_grid(xs, alphas, T, nu, sigma2, kappa):
    """(F, F_x, F_xx) of linear_qk_posterior on the grid alphas x xs (generated; parallel over all points)."""
    nx = xs.size
    out = np.empty((alphas.size, nx, 3))
    for k in numba.prange(alphas.size * nx):
        i = k // nx
        j = k - i * nx
        v = _linear_qk_posterior_012(xs[j], alphas[i], T, nu, sigma2, kappa)
        out[i, j, 0] = v[0]
        out[i, j, 1] = v[1]
        out[i, j, 2] = v[2]
    return out


@numba.njit(cache=True, error_model="numpy")
def linear_qk_map(x, alpha, T, nu, sigma2, kappa):
    """linear_qk_map: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = u (generated)."""
    t0 = math.sqrt(x)
    t1 = T*nu
    t2 = alpha*sigma2
    t3 = t2*x
    t4 = t3 + 1
    t5 = 1/t4
    t6 = alpha**2
    t7 = t4**(-2)
    t8 = sigma2**2
    t9 = t4**(-3)
    t10 = t3*t5 - 1
    return ((1/2)*alpha*t5 + t0*t1, -1/2*sigma2*t6*t7 + (1/2)*t1/t0, alpha**3*t8*t9 - 1/4*t1/x**(3/2), -3*alpha**4*sigma2**3/t4**4 + (3/8)*t1/x**(5/2), t10*t2*t7, -3*t10*t6*t8*t9)


@numba.njit(cache=True, error_model="numpy")
def _linear_qk_map_012(x, alpha, T, nu, sigma2, kappa):
    """linear_qk_map: (F, F_x, F_xx) only, for grids (generated)."""
    t0 = math.sqrt(x)
    t1 = T*nu
    t2 = alpha*sigma2*x + 1
    return ((1/2)*alpha/t2 + t0*t1, -1/2*alpha**2*sigma2/t2**2 + (1/2)*t1/t0, alpha**3*sigma2**2/t2**3 - 1/4*t1/x**(3/2))


@numba.njit(cache=True, parallel=True, error_model="numpy")
def linear_qk_map_grid(xs, alphas, T, nu, sigma2, kappa):
    """(F, F_x, F_xx) of linear_qk_map on the grid alphas x xs (generated; parallel over all points)."""
    nx = xs.size
    out = np.empty((alphas.size, nx, 3))
    for k in numba.prange(alphas.size * nx):
        i = k // nx
        j = k - i * nx
        v = _linear_qk_map_012(xs[j], alphas[i], T, nu, sigma2, kappa)
        out[i, j, 0] = v[0]
        out[i, j, 1] = v[1]
        out[i, j, 2] = v[2]
    return out


@numba.njit(cache=True, error_model="numpy")
def linear_gaussian_posterior(x, alpha, T, nu, sigma2, kappa):
    """linear_gaussian_posterior: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = u (generated)."""
    t0 = T*nu
    t1 = sigma2*x
    t2 = alpha*t1 + 1
    t3 = 1/t2
    t4 = alpha*t3
    t5 = t2**(-2)
    t6 = alpha**2*t5
    t7 = sigma2**2
    t8 = 3*t4
    t9 = t1*t6
    return ((1/2)*t0*x + (1/2)*t4 + (1/2)*math.log(t2), (1/2)*sigma2*t4 - 1/2*sigma2*t6 + (1/2)*t0, t6*t7*(t4 - 1/2), alpha**3*sigma2**3*(1 - t8)/t2**3, sigma2*t3*(-1/2*t1*t4 - t4 + t9 + 1/2), alpha*t5*t7*(alpha*sigma2*t3*x + t8 - 3*t9 - 1))


@numba.njit(cache=True, error_model="numpy")
def _linear_gaussian_posterior_012(x, alpha, T, nu, sigma2, kappa):
    """linear_gaussian_posterior: (F, F_x, F_xx) only, for grids (generated)."""
    t0 = T*nu
    t1 = alpha*sigma2*x + 1
    t2 = alpha/t1
    t3 = alpha**2/t1**2
    return ((1/2)*t0*x + (1/2)*t2 + (1/2)*math.log(t1), (1/2)*sigma2*t2 - 1/2*sigma2*t3 + (1/2)*t0, sigma2**2*t3*(t2 - 1/2))


@numba.njit(cache=True, parallel=True, error_model="numpy")
def linear_gaussian_posterior_grid(xs, alphas, T, nu, sigma2, kappa):
    """(F, F_x, F_xx) of linear_gaussian_posterior on the grid alphas x xs (generated; parallel over all points)."""
    nx = xs.size
    out = np.empty((alphas.size, nx, 3))
    for k in numba.prange(alphas.size * nx):
        i = k // nx
        j = k - i * nx
        v = _linear_gaussian_posterior_012(xs[j], alphas[i], T, nu, sigma2, kappa)
        out[i, j, 0] = v[0]
        out[i, j, 1] = v[1]
        out[i, j, 2] = v[2]
    return out


@numba.njit(cache=True, error_model="numpy")
def linear_gaussian_map(x, alpha, T, nu, sigma2, kappa):
    """linear_gaussian_map: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = u (generated)."""
    t0 = T*nu
    t1 = sigma2*x
    t2 = alpha*t1 + 1
    t3 = alpha/t2
    t4 = alpha**2
    t5 = sigma2/t2**2
    t6 = sigma2**2/t2**3
    t7 = t1*t3 - 1
    return ((1/2)*t0*x + (1/2)*t3, (1/2)*t0 - 1/2*t4*t5, alpha**3*t6, -3*alpha**4*sigma2**3/t2**4, alpha*t5*t7, -3*t4*t6*t7)


@numba.njit(cache=True, error_model="numpy")
def _linear_gaussian_map_012(x, alpha, T, nu, sigma2, kappa):
    """linear_gaussian_map: (F, F_x, F_xx) only, for grids (generated)."""
    t0 = T*nu
    t1 = alpha*sigma2*x + 1
    return ((1/2)*alpha/t1 + (1/2)*t0*x, -1/2*alpha**2*sigma2/t1**2 + (1/2)*t0, alpha**3*sigma2**2/t1**3)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def linear_gaussian_map_grid(xs, alphas, T, nu, sigma2, kappa):
    """(F, F_x, F_xx) of linear_gaussian_map on the grid alphas x xs (generated; parallel over all points)."""
    nx = xs.size
    out = np.empty((alphas.size, nx, 3))
    for k in numba.prange(alphas.size * nx):
        i = k // nx
        j = k - i * nx
        v = _linear_gaussian_map_012(xs[j], alphas[i], T, nu, sigma2, kappa)
        out[i, j, 0] = v[0]
        out[i, j, 1] = v[1]
        out[i, j, 2] = v[2]
    return out

KERNELS = {
    'softmax_qk_posterior': (softmax_qk_posterior, softmax_qk_posterior_grid),
    'softmax_qk_map': (softmax_qk_map, softmax_qk_map_grid),
    'softmax_gaussian_posterior': (softmax_gaussian_posterior, softmax_gaussian_posterior_grid),
    'softmax_gaussian_map': (softmax_gaussian_map, softmax_gaussian_map_grid),
    'linear_qk_posterior': (linear_qk_posterior, linear_qk_posterior_grid),
    'linear_qk_map': (linear_qk_map, linear_qk_map_grid),
    'linear_gaussian_posterior': (linear_gaussian_posterior, linear_gaussian_posterior_grid),
    'linear_gaussian_map': (linear_gaussian_map, linear_gaussian_map_grid),
}
