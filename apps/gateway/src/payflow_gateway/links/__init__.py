"""Payment links at the gateway: the merchant's routes (create, list, get, deactivate, payments),
the payer's route (pay), and the public pages a link's URL leads to (the hosted pay page and its
QR codes). Links and their payments live in the orchestrator; wiring: `links.composition`."""
