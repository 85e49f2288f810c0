"""A pytest plugin that runs every selected test REPEAT times in a row (default 20) in one session, as
parametrized copies (`test[0]` ... `test[19]`), so each module's stack starts once. For checking that a
test is steady:

    REPEAT=20 .venv/bin/python -m pytest -p tests.harness.repeat tests/e2e/test_fleet.py::test_name -q
"""

import os


def pytest_generate_tests(metafunc):
    metafunc.fixturenames.append("_repeat")
    metafunc.parametrize("_repeat", range(int(os.environ.get("REPEAT", "20"))))
