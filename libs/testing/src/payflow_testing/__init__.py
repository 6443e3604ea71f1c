"""Test support: real stores for the suite, and a harness that runs the real service processes."""

from payflow_testing.stack import ServiceProcess, ServiceStack
from payflow_testing.stores import StoreEndpoints, provide_stores

__all__ = ["ServiceProcess", "ServiceStack", "StoreEndpoints", "provide_stores"]
