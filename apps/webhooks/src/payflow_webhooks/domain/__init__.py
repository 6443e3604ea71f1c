"""The pure rules of webhooks: endpoints, signatures, retry schedule, deliveries, URL policy."""
