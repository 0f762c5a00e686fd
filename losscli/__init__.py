"""losscli: audit the choice of loss function as the choice of a noise model."""

__version__ = "0.1.0"
