"""`python -m payflow_wallet`: run the wallet service."""

from payflow_service import serve
from payflow_wallet.settings import WalletSettings

if __name__ == "__main__":
    serve("payflow_wallet.main:create_app", "wallet", WalletSettings())
