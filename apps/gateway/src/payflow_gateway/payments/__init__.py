"""Kept only for `libs/client/tests/test_model_drift.py`, which reads the reconciliation route's
source through `payflow_gateway.payments.operations_api`; the routes live in `payflow_gateway.api`.
Remove this package once that test imports `payflow_gateway.api.admin`."""
