"""The ledger's pure domain: double-entry journal transactions and posting decisions."""
