"""The webhooks service's adapters: MongoDB stores and their in-memory twins, Redis (replay
quota, remembered endpoints), the ARQ delivery queue, the system's DNS resolver."""
