"""The Dagster code location: each stage's defs(), merged; nothing else.

The stages do not import each other's assets: what one needs of another (the marts' keys from
the dbt manifest, the keys the build leaves out) is handed over here.
"""
from dagster import Definitions

from pipelines.ingest import assets as ingest
from pipelines.mail import assets as mail
from pipelines.ops import assets as ops
from pipelines.privacy import assets as privacy
from pipelines.serving import assets as serving
from pipelines.transform import assets as transform

marts = transform.mart_keys()

defs = Definitions.merge(
    ingest.defs(after=[serving.TENANTS_KEY]),
    transform.defs(),
    serving.defs(marts, after=[privacy.RESTRICTIONS_KEY]),
    privacy.defs(marts),
    ops.defs(monitored=[*marts, *serving.KEYS], outside_build=list(privacy.OUTSIDE_BUILD), ops_file=serving.OPS_KEY),
    mail.defs(),
)
