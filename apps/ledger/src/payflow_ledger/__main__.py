"""`python -m payflow_ledger`: run the ledger service."""

from payflow_ledger.settings import LedgerSettings
from payflow_service import serve

if __name__ == "__main__":
    serve("payflow_ledger.main:create_app", "ledger", LedgerSettings())
