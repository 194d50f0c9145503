import pytest

from copyhead.theory.model import DEFAULT, Model, ParameterError


@pytest.mark.parametrize(
    "kw,name",
    [({"T": 1}, "T"), ({"T": 2.5}, "T"), ({"nu": 0}, "nu"), ({"sigma2": -1}, "sigma2"), ({"kappa": float("nan")}, "kappa"),
     ({"attention": "relu"}, "attention"), ({"prior": "laplace"}, "prior"), ({"objective": "mle"}, "objective"),
     ({"V": 1}, "V"), ({"alpha": 0.0}, "alpha"), ({"nu": "x"}, "nu")],
)
def test_invalid_parameters_name_the_parameter(kw, name):
    with pytest.raises(ParameterError) as exc:
        Model(**kw)
    assert exc.value.name == name
    assert name in str(exc.value)


def test_defaults_and_finite_sizes():
    assert (DEFAULT.T, DEFAULT.nu, DEFAULT.sigma2, DEFAULT.kappa, DEFAULT.prior) == (8, 0.5, 0.1, 1.0, "qk")
    m = Model(V=16, alpha=25.0)
    assert m.N == round(0.5 * 256)
    assert m.P == round(25.0 * 256 / 8)
    assert abs(m.alpha_effective - 25.0) < 8 / 256
    with pytest.raises(ParameterError):
        Model().N  # needs V
    assert Model.from_dict(m.to_dict()) == m
