"""The noise families (one module each) and their registry, in display order. Adding one:
a module and a line here."""

from __future__ import annotations

from losscli.noise.base import BLOCK_INPUTS, ContinuousFamily, Family
from losscli.noise.bernoulli import Bernoulli
from losscli.noise.beta import Beta
from losscli.noise.categorical import Categorical
from losscli.noise.epsilon_insensitive import EpsilonInsensitive
from losscli.noise.expectile import Expectile
from losscli.noise.fair import Fair
from losscli.noise.gamma import Gamma
from losscli.noise.gaussian import Gaussian
from losscli.noise.generalized_normal import GeneralizedNormal
from losscli.noise.huber import Huber
from losscli.noise.hurdle import HurdleGamma, HurdleLogNormal
from losscli.noise.inverse_gaussian import InverseGaussian
from losscli.noise.laplace import Laplace
from losscli.noise.log1p_normal import Log1pNormal
from losscli.noise.logcosh import LogCosh
from losscli.noise.lognormal import LogNormal
from losscli.noise.multilabel import Multilabel
from losscli.noise.negative_binomial import NegativeBinomial
from losscli.noise.poisson import Poisson
from losscli.noise.pseudo_huber import PseudoHuber
from losscli.noise.quantile import Quantile
from losscli.noise.student_t import StudentT
from losscli.noise.support import Support
from losscli.noise.tweedie import Tweedie
from losscli.noise.zero_inflated import ZeroInflatedNegativeBinomial, ZeroInflatedPoisson

FAMILIES: dict[str, type[Family]] = {
    "gaussian": Gaussian,
    "laplace": Laplace,
    "student_t": StudentT,
    "bernoulli": Bernoulli,
    "categorical": Categorical,
    "multilabel": Multilabel,
    "poisson": Poisson,
    "negative_binomial": NegativeBinomial,
    "gamma": Gamma,
    "lognormal": LogNormal,
    "beta": Beta,
    "zero_inflated_poisson": ZeroInflatedPoisson,
    "zero_inflated_negative_binomial": ZeroInflatedNegativeBinomial,
    "inverse_gaussian": InverseGaussian,
    "hurdle_gamma": HurdleGamma,
    "hurdle_lognormal": HurdleLogNormal,
    "log1p_normal": Log1pNormal,
    "tweedie": Tweedie,
    "quantile": Quantile,
    "expectile": Expectile,
    "logcosh": LogCosh,
    "generalized_normal": GeneralizedNormal,
    "huber": Huber,
    "pseudo_huber": PseudoHuber,
    "fair": Fair,
    "epsilon_insensitive": EpsilonInsensitive,
}

__all__ = ["BLOCK_INPUTS", "FAMILIES", "ContinuousFamily", "Family", "Support"]


def describe() -> list[dict]:
    """Each family's declared facts, as `losscli families` shows them."""
    rows = []
    for name, cls in FAMILIES.items():
        fw = cls.frameworks
        rows.append({
            "family": name,
            "support": cls.requirement if cls.input in BLOCK_INPUTS else cls.support.description,
            "discrete": cls.discrete,
            "prediction": cls.prediction,
            "nuisance": list(cls.nuisance),
            "marginal_params": list(cls.marginal_params),
            "loss": cls.loss,
            "transform": cls.transform,
            **fw.names(),
        })
    return rows
