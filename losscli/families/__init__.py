"""The registry of noise families, in display order. Adding one: a module and a line here."""

from __future__ import annotations

from losscli.families.base import ContinuousFamily, Family
from losscli.families.bernoulli import Bernoulli
from losscli.families.beta import Beta
from losscli.families.categorical import Categorical
from losscli.families.gamma import Gamma
from losscli.families.gaussian import Gaussian
from losscli.families.laplace import Laplace
from losscli.families.lognormal import LogNormal
from losscli.families.negative_binomial import NegativeBinomial
from losscli.families.poisson import Poisson
from losscli.families.student_t import StudentT
from losscli.families.support import Support

FAMILIES: dict[str, type[Family]] = {
    "gaussian": Gaussian,
    "laplace": Laplace,
    "student_t": StudentT,
    "bernoulli": Bernoulli,
    "categorical": Categorical,
    "poisson": Poisson,
    "negative_binomial": NegativeBinomial,
    "gamma": Gamma,
    "lognormal": LogNormal,
    "beta": Beta,
}

__all__ = ["FAMILIES", "ContinuousFamily", "Family", "Support"]


def describe() -> list[dict]:
    """Each family's declared facts, as `losscli families` shows them."""
    rows = []
    for name, cls in FAMILIES.items():
        fw = cls.frameworks
        rows.append({
            "family": name,
            "support": cls.requirement if cls.input == "classes" else cls.support.description,
            "discrete": cls.discrete,
            "prediction": cls.prediction,
            "nuisance": list(cls.nuisance),
            "marginal_params": list(cls.marginal_params),
            "loss": cls.loss,
            "transform": cls.transform,
            "pytorch": fw.pytorch, "sklearn": fw.sklearn,
            "xgboost": fw.xgboost, "lightgbm": fw.lightgbm,
        })
    return rows
