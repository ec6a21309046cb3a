"""insight: see README.md in this folder."""

from fairtel.insight._churn_model import CHURN_PHRASES, train_churn_model

__all__ = ["CHURN_PHRASES", "train_churn_model"]
