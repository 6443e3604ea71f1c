"""The runtime every PayFlow HTTP process shares: app factory, problem errors, internal auth."""

from payflow_service.app import ServiceRuntime, create_service_app
from payflow_service.internal_auth import InternalCaller, require_internal_token
from payflow_service.problems import ProblemError, problem_response
from payflow_service.serve import serve

__all__ = [
    "InternalCaller",
    "ProblemError",
    "ServiceRuntime",
    "create_service_app",
    "problem_response",
    "require_internal_token",
    "serve",
]
