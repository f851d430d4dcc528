"""API fuzzing (issue 12): Schemathesis generates requests from /api/v1/openapi.json and sends them
to the WSGI app with an administrator's and an agent's token.  Every answer must be documented:
no 5xx, no status code the operation does not list, bodies and content types as described.

Bounded: ``FUZZ_EXAMPLES`` examples per operation and mode (default 8: about a minute on two
cores).  Run it alone with ``scripts/test -m fuzz``.
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .test_api import tokens  # noqa: F401  (the API's token fixture: an administrator and an agent)

pytestmark = [pytest.mark.fuzz, pytest.mark.db]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
# Every check but one: a schema-valid request may still be refused by a rule of the use case
# (a number this user may not call, a name already taken) -- with a documented 4xx.
EXCLUDED = [positive_data_acceptance]


@pytest.mark.timeout(max(300, EXAMPLES * 40))   # a deeper run (FUZZ_EXAMPLES) gets the time it needs
def test_api_answers_as_documented(app, tokens):
    """One Hypothesis run per operation (Schemathesis' strategies: its pytest plugin does not run
    on pytest 9); every failure of every operation is reported together."""
    from hypothesis import given

    app.config["PROPAGATE_EXCEPTIONS"] = False   # a bug must show as the 500 a client would get
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures = {}
    seen: dict[int, int] = {}   # status code -> answers
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 40
    strategies = [(op, mode) for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    for operation, mode in strategies:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            for role in ("admin", "agent"):
                r = case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"},
                                           excluded_checks=EXCLUDED)
                seen[r.status_code] = seen.get(r.status_code, 0) + 1

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:   # noqa: BLE001 (collected, reported below)
            failures[f"{operation.label} ({mode.value})"] = f"{type(exc).__name__}: {exc}"[:1500]
            print(f"FAILED {operation.label} ({mode.value}): {exc}"[:3000], flush=True)   # seen with -s at once
    assert failures == {}, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
    print("answers by status:", dict(sorted(seen.items())))
    # the requests reached the handlers: not only refusals at the door
    assert seen.get(200, 0) > 50 and seen.get(201, 0) > 5 and seen.get(422, 0) > 5, seen
