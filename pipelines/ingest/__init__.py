"""Ingestion: landing discovery, readers, the load into raw.* with quarantine and reconciliation,
Great Expectations on loaded rows, the retired-tenants gate; identities go to pipelines.vault.
"""
