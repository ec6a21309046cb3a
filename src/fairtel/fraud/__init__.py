"""fraud: see README.md in this folder."""

from fairtel.fraud._model import FRAUD_PHRASES, train_fraud_model

__all__ = ["FRAUD_PHRASES", "train_fraud_model"]
