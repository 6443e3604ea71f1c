"""The webhooks-worker process: an ARQ worker that signs and sends deliveries."""
