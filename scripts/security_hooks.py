"""Schemathesis hooks for scripts/security.sh.

Generated requests must not end the access the run itself uses: a fuzzed PATCH of the
admin's own account (a new password revokes API keys, a new status or role locks it
out) or a DELETE of the run's API key would leave every later request unauthenticated,
and the API behind them untested. Cases whose path names one of those ids are dropped;
every other id, and every other operation, is still generated.
"""

import os

import schemathesis

PROTECTED = {v for v in os.environ.get("PENNY_PROTECTED_IDS", "").split(",") if v}


@schemathesis.hook
def filter_case(context, case):
    values = {str(v) for v in (case.path_parameters or {}).values()}
    return not (PROTECTED & values)
