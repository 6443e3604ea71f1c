"""Public webhook routes: endpoints, deliveries and events, served by the webhooks service."""
