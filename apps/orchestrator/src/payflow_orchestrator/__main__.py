"""`python -m payflow_orchestrator`: run the transaction orchestrator."""

from payflow_orchestrator.settings import OrchestratorSettings
from payflow_service import serve

if __name__ == "__main__":
    serve("payflow_orchestrator.main:create_app", "orchestrator", OrchestratorSettings())
