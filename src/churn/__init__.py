"""churn: predict which customers are about to leave and what to do about each one."""

__version__ = "0.1.0"
